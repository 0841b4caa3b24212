import { Module } from '@nestjs/common';
import { WebController } from './web.controller';

/** Serves the publisher and viewer pages built from web/ (see scripts/build-web.mjs). */
@Module({
  controllers: [WebController],
})
export class WebModule {}
