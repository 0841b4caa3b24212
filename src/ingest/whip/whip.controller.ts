import { All, Controller, Delete, HttpCode, Logger, Param, Patch, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { errorMessage } from '../../common/errors';
import { toWhipHttpError } from './whip-errors';
import { assertContentType, readBody, SDP_TYPE, SDPFRAG_TYPE, WhipHttpError } from './whip-http';
import { WhipService } from './whip.service';

/**
 * WHIP (RFC 9725) over HTTP: a thin layer that reads bodies and headers, asks WhipService, and writes
 * the status, headers and body; every refusal is JSON `{ error, code }` with its status.
 */
@ApiTags('whip')
@Controller('whip')
export class WhipController {
  private readonly logger = new Logger(WhipController.name);

  constructor(private readonly whip: WhipService) {}

  @Post(':stream')
  @ApiOperation({
    summary: 'Publish: an SDP offer in, the answer out (WHIP, RFC 9725)',
    description:
      'Authorization: Bearer <publish token> when PUBLISH_AUTH=token. 201 with the answer, Location (the session), ETag, and a Link per configured STUN/TURN server.',
  })
  @ApiParam({ name: 'stream', description: 'Stream name: [A-Za-z0-9_-]{1,64}, not ending in -video or -audio' })
  @ApiConsumes(SDP_TYPE)
  @ApiProduces(SDP_TYPE)
  @ApiBody({ schema: { type: 'string', example: 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n…' } })
  @ApiHeader({ name: 'Authorization', required: false, description: 'Bearer <publish token for the stream>' })
  @ApiResponse({ status: 201, description: 'The SDP answer; Location, ETag, Link headers' })
  @ApiResponse({
    status: 400,
    description: 'Bad stream name, unparsable or incomplete offer (no ICE credentials, no fingerprint, no media)',
  })
  @ApiResponse({ status: 401, description: 'No token, or one that does not verify' })
  @ApiResponse({ status: 403, description: 'A token for another stream' })
  @ApiResponse({ status: 409, description: 'STREAM_IN_USE: another publisher holds the name (unless STREAM_TAKEOVER=true)' })
  @ApiResponse({ status: 413, description: 'Body over 64 KiB' })
  @ApiResponse({ status: 415, description: 'Content-Type is not application/sdp' })
  @ApiResponse({ status: 422, description: 'No codec we can take in an m-section' })
  @ApiResponse({ status: 503, description: 'No capacity (worker, ports, peers); Retry-After' })
  async publish(@Param('stream') stream: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer(res, `POST /whip/${stream.slice(0, 64)}`, async () => {
      assertContentType(req.headers['content-type'], SDP_TYPE, 'a WHIP offer');
      const sdp = await readBody(req);
      const created = await this.whip.publish(stream, req.headers.authorization, sdp);
      if (res.destroyed) {
        await this.whip.abandon(created.resource);
        return;
      }
      res.status(201);
      res.setHeader('Content-Type', SDP_TYPE);
      res.setHeader('Location', created.resource.location);
      res.setHeader('ETag', created.resource.etag);
      res.setHeader('Accept-Patch', SDPFRAG_TYPE);
      // One header line per server (RFC 9725 §4.6); Node writes an array as repeated headers.
      if (created.links.length > 0) res.setHeader('Link', created.links);
      res.end(created.answer);
    });
  }

  @Delete(':stream/:resource')
  @HttpCode(200)
  @ApiOperation({ summary: 'End a WHIP session: the stream ends at once (no reconnect grace period)' })
  @ApiResponse({ status: 200, description: 'Ended' })
  @ApiResponse({ status: 401, description: 'PUBLISH_AUTH=token and no valid token' })
  @ApiResponse({ status: 403, description: 'A token for another stream' })
  @ApiResponse({ status: 404, description: 'No such session' })
  async end(@Param('stream') stream: string, @Param('resource') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer(res, `DELETE /whip/${stream.slice(0, 64)}/…`, async () => {
      await this.whip.end(stream, id, req.headers.authorization);
      res.status(200).end();
    });
  }

  @Patch(':stream/:resource')
  @ApiOperation({ summary: 'Trickle ICE candidates (204) or restart ICE (200 with new credentials), RFC 9725 §4.3' })
  @ApiConsumes(SDPFRAG_TYPE)
  @ApiBody({
    schema: { type: 'string', example: 'a=ice-ufrag:EsAw\r\na=ice-pwd:…\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:…' },
  })
  @ApiHeader({ name: 'If-Match', required: false, description: 'The ETag of the session; "*" for an ICE restart' })
  @ApiResponse({ status: 204, description: 'Candidates taken (the server is ICE-lite: it learns addresses from the checks)' })
  @ApiResponse({ status: 200, description: 'ICE restarted: the server’s new credentials and candidates, new ETag' })
  @ApiResponse({ status: 400, description: 'Not a trickle-ice-sdpfrag' })
  @ApiResponse({ status: 404, description: 'No such session, or its connection is gone' })
  @ApiResponse({ status: 412, description: 'If-Match does not match the ETag' })
  @ApiResponse({ status: 415, description: 'Content-Type is not application/trickle-ice-sdpfrag' })
  async patch(@Param('stream') stream: string, @Param('resource') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer(res, `PATCH /whip/${stream.slice(0, 64)}/…`, async () => {
      // The session first: a PATCH of a session that does not exist is answered as such, whatever its body.
      this.whip.assertExists(stream, id);
      assertContentType(req.headers['content-type'], SDPFRAG_TYPE, 'a WHIP PATCH');
      const body = await readBody(req);
      const result = await this.whip.patch(stream, id, req.headers.authorization, req.headers['if-match'], body);
      if (result.status === 204) {
        res.status(204).end();
        return;
      }
      res.status(200);
      res.setHeader('Content-Type', SDPFRAG_TYPE);
      res.setHeader('ETag', result.etag);
      res.end(result.fragment);
    });
  }

  /** Other methods on an endpoint or a session URL (a WHIP client's GET, whip-whep's mute() POST…). */
  @All(':stream')
  endpointMethods(@Req() req: Request, @Res() res: Response): void {
    this.refuse(
      res,
      new WhipHttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on a WHIP endpoint: POST an SDP offer`, {
        Allow: 'POST, OPTIONS',
      }),
    );
  }

  @All(':stream/:resource')
  sessionMethods(@Req() req: Request, @Res() res: Response): void {
    this.refuse(
      res,
      new WhipHttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on a WHIP session: PATCH (trickle ICE) or DELETE`, {
        Allow: 'PATCH, DELETE, OPTIONS',
      }),
    );
  }

  private async answer(res: Response, what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      const refusal = toWhipHttpError(error);
      if (refusal) {
        this.logger.warn(`${what} refused (${refusal.status} ${refusal.code}): ${refusal.message}`);
        this.refuse(res, refusal);
      } else {
        this.logger.error(`${what} failed: ${errorMessage(error)}`, (error as Error)?.stack);
        this.refuse(res, new WhipHttpError(500, 'INTERNAL', 'internal error; the server log has the details'));
      }
    }
  }

  private refuse(res: Response, error: WhipHttpError): void {
    if (res.headersSent || res.destroyed) return;
    res.status(error.status);
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    res.json({ error: error.message, code: error.code });
  }
}
