import { Logger } from '@nestjs/common';
import type { Consumer } from 'mediasoup/node/lib/Consumer';
import type { PipeTransport } from 'mediasoup/node/lib/PipeTransport';
import type { Producer } from 'mediasoup/node/lib/Producer';
import type { Router } from 'mediasoup/node/lib/Router';
import { InvalidStateError } from '../common/errors';

/** A connected PipeTransport pair between two routers, shared by every producer piped across it. */
class PipeLink {
  /** Pipe consumers still open on this link. */
  users = 0;
  closed = false;

  constructor(
    readonly key: string,
    private readonly ends: ReadonlyMap<string, PipeTransport>,
    private readonly onClose: () => void,
  ) {
    // A worker's death closes its end; the other end is useless without it.
    for (const end of ends.values()) end.observer.once('close', () => this.close());
  }

  end(router: Router): PipeTransport {
    return this.ends.get(router.id)!;
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const end of this.ends.values()) end.close();
    this.onClose();
  }
}

/**
 * Makes producers consumable on other workers' routers. Unlike `router.pipeToRouter()`, whose
 * PipeTransport pair lives as long as the routers, a pair here closes with the last producer piped
 * across it, so a worker holds no transport once every peer has left.
 */
export class RouterPipes {
  private readonly logger = new Logger(RouterPipes.name);
  /** Keyed by the two router ids, sorted: one pair serves both directions. */
  private readonly links = new Map<string, Promise<PipeLink>>();
  /** `${producerId}:${routerId}` → the pipe producer being, or already, created there. */
  private readonly piped = new Map<string, Promise<void>>();

  /** Resolves once `producer` (on `from`) can be consumed on `to`; concurrent calls share one pipe. */
  pipe(producer: Producer, from: Router, to: Router): Promise<void> {
    const key = `${producer.id}:${to.id}`;
    let piping = this.piped.get(key);
    if (!piping) {
      const created: Promise<void> = this.createPipe(producer, from, to, () => {
        if (this.piped.get(key) === created) this.piped.delete(key);
      });
      piping = created;
      this.piped.set(key, piping);
    }
    return piping;
  }

  private async createPipe(producer: Producer, from: Router, to: Router, forget: () => void): Promise<void> {
    let link: PipeLink;
    try {
      link = await this.acquire(from, to);
    } catch (error) {
      forget();
      throw error;
    }
    let pipeConsumer: Consumer | undefined;
    let pipeProducer: Producer | undefined;
    try {
      pipeConsumer = await link.end(from).consume({ producerId: producer.id });
      pipeProducer = await link.end(to).produce({
        id: producer.id,
        kind: pipeConsumer.kind,
        rtpParameters: pipeConsumer.rtpParameters,
        paused: pipeConsumer.producerPaused,
        appData: producer.appData,
      });
      if (pipeConsumer.closed || producer.closed) throw new InvalidStateError(`producer ${producer.id} closed while being piped`);
      // The original may have paused or resumed while the pipe producer was being created.
      if (pipeProducer.paused !== pipeConsumer.producerPaused) {
        await (pipeConsumer.producerPaused ? pipeProducer.pause() : pipeProducer.resume());
      }
    } catch (error) {
      pipeConsumer?.close();
      pipeProducer?.close();
      forget();
      this.release(link);
      throw error;
    }
    const [consumer, piped] = [pipeConsumer, pipeProducer];
    consumer.observer.on('pause', () => void piped.pause().catch(() => undefined)); // fails only once closed
    consumer.observer.on('resume', () => void piped.resume().catch(() => undefined)); // fails only once closed
    piped.observer.once('close', () => consumer.close());
    consumer.observer.once('close', () => {
      piped.close();
      forget();
      this.release(link);
    });
    this.logger.debug(`[producer:${producer.id}] piped from router ${from.id} to ${to.id}`);
  }

  /** A live link between the two routers, counted as used once more. */
  private async acquire(a: Router, b: Router): Promise<PipeLink> {
    const key = [a.id, b.id].sort().join('|');
    for (;;) {
      let linking = this.links.get(key);
      if (!linking) {
        const created: Promise<PipeLink> = this.connect(a, b, key, () => {
          if (this.links.get(key) === created) this.links.delete(key);
        });
        created.catch(() => {
          if (this.links.get(key) === created) this.links.delete(key);
        });
        linking = created;
        this.links.set(key, linking);
      }
      const link = await linking;
      // Its last user may have released it while this call waited: then make a new one.
      if (!link.closed) {
        link.users++;
        return link;
      }
      if (this.links.get(key) === linking) this.links.delete(key);
    }
  }

  private release(link: PipeLink): void {
    link.users--;
    if (link.users <= 0) link.close();
  }

  private async connect(a: Router, b: Router, key: string, onClose: () => void): Promise<PipeLink> {
    const created = await Promise.allSettled([a, b].map((router) => router.createPipeTransport({ listenIp: '127.0.0.1' })));
    const ends = created.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    try {
      const failed = created.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
      const [endA, endB] = ends;
      await Promise.all([
        endA.connect({ ip: endB.tuple.localIp, port: endB.tuple.localPort }),
        endB.connect({ ip: endA.tuple.localIp, port: endA.tuple.localPort }),
      ]);
    } catch (error) {
      for (const end of ends) end.close();
      throw error;
    }
    return new PipeLink(
      key,
      new Map([
        [a.id, ends[0]],
        [b.id, ends[1]],
      ]),
      onClose,
    );
  }
}
