import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { LlDeliveryService } from './ll-delivery.service';

/**
 * Low-Latency HLS at /live, from memory: every name with `.ll.` (stream ids have no dot). Registered
 * before LiveFilesController, whose `/live/:file` would otherwise look for these names on disk.
 */
@ApiTags('hls')
@Controller('live')
export class LlFilesController {
  constructor(private readonly delivery: LlDeliveryService) {}

  @Get(':name.ll.:rest')
  @ApiOperation({
    summary: 'Low-Latency HLS: <id>.ll.m3u8 (master), <id>-video.ll.m3u8 / <id>-audio.ll.m3u8 (media), init sections, parts and segments',
    description:
      'Media playlists support blocking reload (_HLS_msn, _HLS_part) and delta updates (_HLS_skip=YES|v2). ' +
      'A blocked request is answered as soon as what it asks for exists, or 503 after three target durations.',
  })
  @ApiParam({ name: 'name', example: 'Nbm4Zqc4p_B15RMwAAAA-video' })
  @ApiParam({ name: 'rest', example: 'm3u8' })
  @ApiQuery({ name: '_HLS_msn', required: false, type: Number })
  @ApiQuery({ name: '_HLS_part', required: false, type: Number })
  @ApiQuery({ name: '_HLS_skip', required: false, enum: ['YES', 'v2'] })
  @ApiProduces('application/vnd.apple.mpegurl', 'video/mp4', 'audio/mp4')
  @ApiOkResponse({ description: 'Playlists: no-cache (a blocking answer: cacheable for a second); parts and segments: immutable' })
  @ApiBadRequestResponse({ description: 'Malformed or unreachable delivery directives (e.g. _HLS_msn more than two segments ahead)' })
  @ApiNotFoundResponse({ description: 'No such stream, rendition, part or segment (or not yet: no part exists)' })
  @ApiResponse({ status: 429, description: 'This connection already holds as many blocked requests as it may' })
  @ApiResponse({ status: 503, description: 'A blocked request that the playlist did not satisfy within three target durations' })
  async serve(@Param('name') name: string, @Param('rest') rest: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.delivery.serve(`${name}.ll.${rest}`, req, res);
  }
}
