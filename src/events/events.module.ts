import { Global, Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { EventBus } from './events';
import { LifecycleService } from './lifecycle.service';

@Global()
@Module({
  imports: [EventEmitterModule.forRoot({ wildcard: false, maxListeners: 50 })],
  providers: [EventBus, LifecycleService],
  exports: [EventBus, LifecycleService],
})
export class EventsModule {}
