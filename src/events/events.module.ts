import { Global, Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { EventBus } from './events';

@Global()
@Module({
  imports: [EventEmitterModule.forRoot({ wildcard: false, maxListeners: 50 })],
  providers: [EventBus],
  exports: [EventBus],
})
export class EventsModule {}
