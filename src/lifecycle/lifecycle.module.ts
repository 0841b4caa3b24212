import { Global, Module } from '@nestjs/common';
import { LifecycleService } from './lifecycle.service';

/** Whether the process is going down (signals), for owners that must not restart what a signal killed. */
@Global()
@Module({
  providers: [LifecycleService],
  exports: [LifecycleService],
})
export class LifecycleModule {}
