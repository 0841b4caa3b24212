import { Global, Module } from '@nestjs/common';
import { CONTINUITY_STORE } from '../packaging/continuity';
import { ContinuityStoreService } from './continuity-store.service';

/**
 * Provides packaging's CONTINUITY_STORE (the cluster's registry). Global because packaging must not
 * import what knows of streams and the cluster: it only asks for the token.
 */
@Global()
@Module({
  providers: [{ provide: CONTINUITY_STORE, useClass: ContinuityStoreService }],
  exports: [CONTINUITY_STORE],
})
export class ContinuityModule {}
