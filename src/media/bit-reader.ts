import { MediaFormatError } from './media-format-error';

/** Reads big-endian bit fields and exp-Golomb codes (H.264 SPS syntax) from a byte buffer. */
export class BitReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  /** Bits not read yet. */
  get bitsLeft(): number {
    return this.buf.length * 8 - this.pos;
  }

  /** Reads `n` bits (n ≤ 32) as an unsigned number. */
  u(n: number): number {
    if (n > this.bitsLeft) throw new MediaFormatError(`bitstream truncated: wanted ${n} bits, ${this.bitsLeft} left`);
    let value = 0;
    for (let i = 0; i < n; i++) {
      // Multiplication, not <<, so 32-bit fields stay positive.
      value = value * 2 + ((this.buf[this.pos >> 3] >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return value;
  }

  flag(): boolean {
    return this.u(1) === 1;
  }

  skip(n: number): void {
    if (n > this.bitsLeft) throw new MediaFormatError(`bitstream truncated: wanted ${n} bits, ${this.bitsLeft} left`);
    this.pos += n;
  }

  /** Unsigned exp-Golomb code. */
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new MediaFormatError('bad exp-Golomb code');
    return 2 ** zeros - 1 + (zeros ? this.u(zeros) : 0);
  }

  /** Signed exp-Golomb code. */
  se(): number {
    const k = this.ue();
    return k % 2 ? (k + 1) / 2 : -k / 2;
  }
}
