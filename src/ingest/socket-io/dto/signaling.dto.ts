import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateBy,
  ValidateNested,
  ValidationArguments,
  ValidatorConstraint,
  ValidatorConstraintInterface,
  Validate,
} from 'class-validator';

/** mediasoup ids are UUIDs; anything much longer is not an id we issued. */
const ID_MAX = 64;
const MEDIA_KINDS = ['audio', 'video'] as const;

/**
 * Validation stops at a property's first failing constraint, checking the decorator nearest the
 * property first: so the type check sits last in each list, and one message says what is wrong.
 */
const IsId = () =>
  ValidateBy({
    name: 'isId',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && value.length > 0 && value.length <= ID_MAX,
      defaultMessage: (args?: ValidationArguments) =>
        `${args?.property} must be an id (a non-empty string of at most ${ID_MAX} characters)`,
    },
  });

export class CreateWebRtcTransportDto {
  @IsBoolean() isConsumer: boolean;
}

class DtlsFingerprintDto {
  @IsIn(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']) algorithm: string;
  @Matches(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*$/, { message: 'value must be a hex fingerprint' })
  @MaxLength(200)
  @IsString()
  value: string;
}

class DtlsParametersDto {
  @IsOptional() @IsIn(['auto', 'client', 'server']) role?: 'auto' | 'client' | 'server';
  @ValidateNested({ each: true })
  @Type(() => DtlsFingerprintDto)
  @ArrayMaxSize(8)
  @ArrayNotEmpty()
  @IsArray()
  fingerprints: DtlsFingerprintDto[];
}

export class ConnectTransportDto {
  @IsId() transportId: string;
  @ValidateNested() @Type(() => DtlsParametersDto) @IsObject() dtlsParameters: DtlsParametersDto;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Shape checks only, enough that mediasoup's own validation (ortc) meets objects where it expects
 * them; ortc checks the rest and its TypeErrors reach the ack. The codecs must be of the declared kind
 * (mediasoup would accept an audio codec as a video producer).
 */
@ValidatorConstraint({ name: 'rtpParameters' })
class RtpParametersShape implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    return this.problem(value, (args.object as { kind?: unknown }).kind) === undefined;
  }
  defaultMessage(args: ValidationArguments): string {
    return `${args.property} ${this.problem(args.value, (args.object as { kind?: unknown }).kind)}`;
  }
  private problem(value: unknown, kind: unknown): string | undefined {
    if (!isPlainObject(value)) return 'must be an object with a non-empty codecs array';
    const { codecs, encodings } = value;
    if (!Array.isArray(codecs) || codecs.length === 0 || codecs.length > 32) return 'must have 1 to 32 codecs';
    if (!codecs.every((c) => isPlainObject(c) && typeof c.mimeType === 'string')) return 'codecs must be objects with a mimeType';
    const foreign = codecs.find((c) => !(c.mimeType as string).toLowerCase().startsWith(`${String(kind)}/`));
    if (foreign && (kind === 'audio' || kind === 'video')) return `has codec ${foreign.mimeType}, not a ${kind} codec`;
    if (encodings !== undefined && !(Array.isArray(encodings) && encodings.length <= 8 && encodings.every(isPlainObject))) {
      return 'encodings must be an array of up to 8 objects';
    }
    return undefined;
  }
}

@ValidatorConstraint({ name: 'rtpCapabilities' })
class RtpCapabilitiesShape implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (!isPlainObject(value)) return false;
    const { codecs, headerExtensions } = value;
    const listOfObjects = (list: unknown) => list === undefined || (Array.isArray(list) && list.every(isPlainObject));
    return listOfObjects(codecs) && listOfObjects(headerExtensions);
  }
  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must be an object whose codecs and headerExtensions are arrays of objects (a device's rtpCapabilities)`;
  }
}

export class TransportProduceDto {
  @IsIn(MEDIA_KINDS) kind: 'audio' | 'video';
  @Validate(RtpParametersShape) rtpParameters: Record<string, unknown>;
}

export class TransportConsumeDto {
  @Validate(RtpCapabilitiesShape) rtpCapabilities: Record<string, unknown>;
  @IsId() remoteProducerId: string;
}

export class ResumeConsumerDto {
  @IsId() consumerId: string;
}

export class ProducerKindDto {
  @IsIn(MEDIA_KINDS) kind: 'audio' | 'video';
}
