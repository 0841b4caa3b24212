import { readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The HLS directory as packaging writes it: segments written whole before any playlist names them,
 * playlists replaced atomically (a player never reads half a playlist). Failures are returned to the
 * caller, which decides what they mean (a disk-full segment becomes a gap, not a crash).
 */
export class SegmentStore {
  constructor(readonly dir: string) {}

  async writeSegment(name: string, data: Buffer): Promise<void> {
    const path = join(this.dir, name);
    try {
      await writeFile(path, data);
    } catch (error) {
      // A disk that filled up mid-write leaves a truncated file: no playlist lists it (it becomes a
      // gap), so nothing would ever delete it, and it holds space the next segment needs.
      await unlink(path).catch(() => undefined); // best effort: the write's error is the one to report
      throw error;
    }
  }

  async writePlaylist(name: string, text: string): Promise<void> {
    const path = join(this.dir, name);
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
  }

  /** Removes a file; a file that is already gone is not an error. */
  async remove(name: string): Promise<void> {
    await unlink(join(this.dir, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async list(): Promise<string[]> {
    return readdir(this.dir).catch(() => []);
  }
}
