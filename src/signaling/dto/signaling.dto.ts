import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsIn,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
  ValidationArguments,
  ValidatorConstraint,
  ValidatorConstraintInterface,
  Validate,
} from 'class-validator';

/** mediasoup ids are UUIDs; anything much longer is not an id we issued. */
const ID_MAX = 64;
const MEDIA_KINDS = ['audio', 'video'] as const;

export class CreateWebRtcTransportDto {
  @IsBoolean() isConsumer: boolean;
}

class DtlsFingerprintDto {
  @IsIn(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']) algorithm: string;
  @IsString() @MaxLength(200) @Matches(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*$/, { message: 'value must be a hex fingerprint' })
  value: string;
}

class DtlsParametersDto {
  @IsOptional() @IsIn(['auto', 'client', 'server']) role?: 'auto' | 'client' | 'server';
  @IsArray() @ArrayNotEmpty() @ArrayMaxSize(8) @ValidateNested({ each: true }) @Type(() => DtlsFingerprintDto)
  fingerprints: DtlsFingerprintDto[];
}

export class ConnectTransportDto {
  @IsString() @IsNotEmpty() @MaxLength(ID_MAX) transportId: string;
  @IsObject() @ValidateNested() @Type(() => DtlsParametersDto) dtlsParameters: DtlsParametersDto;
}

/** Shape checks only; mediasoup's own validation (ortc) checks the rest and its TypeErrors reach the ack. */
@ValidatorConstraint({ name: 'rtpParameters' })
class RtpParametersShape implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const { codecs, encodings } = value as { codecs?: unknown; encodings?: unknown };
    return Array.isArray(codecs) && codecs.length > 0 && codecs.length <= 32 && (encodings === undefined || Array.isArray(encodings));
  }
  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must be an object with a non-empty codecs array`;
  }
}

@ValidatorConstraint({ name: 'rtpCapabilities' })
class RtpCapabilitiesShape implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const { codecs } = value as { codecs?: unknown };
    return codecs === undefined || Array.isArray(codecs);
  }
  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must be an object (a device's rtpCapabilities)`;
  }
}

export class TransportProduceDto {
  @IsIn(MEDIA_KINDS) kind: 'audio' | 'video';
  @Validate(RtpParametersShape) rtpParameters: Record<string, unknown>;
}

export class TransportConsumeDto {
  @Validate(RtpCapabilitiesShape) rtpCapabilities: Record<string, unknown>;
  @IsString() @IsNotEmpty() @MaxLength(ID_MAX) remoteProducerId: string;
}

export class ResumeConsumerDto {
  @IsString() @IsNotEmpty() @MaxLength(ID_MAX) consumerId: string;
}

export class ProducerKindDto {
  @IsIn(MEDIA_KINDS) kind: 'audio' | 'video';
}
