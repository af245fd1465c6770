import * as $protobuf from "protobufjs";
import Long = require("long");

export namespace fieldline {

    namespace v1 {

        enum SourceProtocol {
            SOURCE_PROTOCOL_UNSPECIFIED = 0,
            SOURCE_PROTOCOL_MQTT = 1,
            SOURCE_PROTOCOL_COAP = 2,
            SOURCE_PROTOCOL_MODBUS_RTU = 3,
            SOURCE_PROTOCOL_MODBUS_TCP = 4
        }

        interface IReading extends fieldline.v1.Reading.$Properties {
        }

        class Reading {
            constructor(properties?: fieldline.v1.Reading.$Properties);
            $unknowns?: Uint8Array[];
            deviceId: string;
            tsMs: number;
            metrics: { [k: string]: number };
            source: fieldline.v1.SourceProtocol;
            raw?: (Uint8Array|null);
            timeFlag: string;
            timeCorrected: boolean;
            static create(properties: fieldline.v1.Reading.$Shape): fieldline.v1.Reading & fieldline.v1.Reading.$Shape;
            static create(properties?: fieldline.v1.Reading.$Properties): fieldline.v1.Reading;
            static encode(message: fieldline.v1.Reading.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): fieldline.v1.Reading & fieldline.v1.Reading.$Shape;
            static fromObject(object: { [k: string]: any }): fieldline.v1.Reading;
            static toObject(message: fieldline.v1.Reading, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
            static getTypeUrl(prefix?: string): string;
        }

        namespace Reading {
            interface $Properties {
                deviceId?: (string|null);
                tsMs?: (number|null);
                metrics?: ({ [k: string]: number }|null);
                source?: (fieldline.v1.SourceProtocol|null);
                raw?: (Uint8Array|null);
                timeFlag?: (string|null);
                timeCorrected?: (boolean|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = fieldline.v1.Reading.$Properties;
        }

        interface IReadingBatch extends fieldline.v1.ReadingBatch.$Properties {
        }

        class ReadingBatch {
            constructor(properties?: fieldline.v1.ReadingBatch.$Properties);
            $unknowns?: Uint8Array[];
            gatewayId: string;
            seq: number;
            createdMs: number;
            readings: fieldline.v1.Reading.$Properties[];
            schemaVersion: number;
            backlog: boolean;
            columns: fieldline.v1.DeviceColumns.$Properties[];
            static create(properties: fieldline.v1.ReadingBatch.$Shape): fieldline.v1.ReadingBatch & fieldline.v1.ReadingBatch.$Shape;
            static create(properties?: fieldline.v1.ReadingBatch.$Properties): fieldline.v1.ReadingBatch;
            static encode(message: fieldline.v1.ReadingBatch.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): fieldline.v1.ReadingBatch & fieldline.v1.ReadingBatch.$Shape;
            static fromObject(object: { [k: string]: any }): fieldline.v1.ReadingBatch;
            static toObject(message: fieldline.v1.ReadingBatch, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
            static getTypeUrl(prefix?: string): string;
        }

        namespace ReadingBatch {
            interface $Properties {
                gatewayId?: (string|null);
                seq?: (number|null);
                createdMs?: (number|null);
                readings?: (fieldline.v1.Reading.$Properties[]|null);
                schemaVersion?: (number|null);
                backlog?: (boolean|null);
                columns?: (fieldline.v1.DeviceColumns.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = fieldline.v1.ReadingBatch.$Properties;
        }

        interface IDeviceColumns extends fieldline.v1.DeviceColumns.$Properties {
        }

        class DeviceColumns {
            constructor(properties?: fieldline.v1.DeviceColumns.$Properties);
            $unknowns?: Uint8Array[];
            deviceId: string;
            source: fieldline.v1.SourceProtocol;
            readingsBefore: number;
            tsMsDelta: number[];
            metrics: fieldline.v1.MetricColumn.$Properties[];
            static create(properties: fieldline.v1.DeviceColumns.$Shape): fieldline.v1.DeviceColumns & fieldline.v1.DeviceColumns.$Shape;
            static create(properties?: fieldline.v1.DeviceColumns.$Properties): fieldline.v1.DeviceColumns;
            static encode(message: fieldline.v1.DeviceColumns.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): fieldline.v1.DeviceColumns & fieldline.v1.DeviceColumns.$Shape;
            static fromObject(object: { [k: string]: any }): fieldline.v1.DeviceColumns;
            static toObject(message: fieldline.v1.DeviceColumns, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
            static getTypeUrl(prefix?: string): string;
        }

        namespace DeviceColumns {
            interface $Properties {
                deviceId?: (string|null);
                source?: (fieldline.v1.SourceProtocol|null);
                readingsBefore?: (number|null);
                tsMsDelta?: (number[]|null);
                metrics?: (fieldline.v1.MetricColumn.$Properties[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = fieldline.v1.DeviceColumns.$Properties;
        }

        interface IMetricColumn extends fieldline.v1.MetricColumn.$Properties {
        }

        class MetricColumn {
            constructor(properties?: fieldline.v1.MetricColumn.$Properties);
            $unknowns?: Uint8Array[];
            name: string;
            present: Uint8Array;
            scale: number;
            scaledDelta: number[];
            raw: number[];
            static create(properties: fieldline.v1.MetricColumn.$Shape): fieldline.v1.MetricColumn & fieldline.v1.MetricColumn.$Shape;
            static create(properties?: fieldline.v1.MetricColumn.$Properties): fieldline.v1.MetricColumn;
            static encode(message: fieldline.v1.MetricColumn.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): fieldline.v1.MetricColumn & fieldline.v1.MetricColumn.$Shape;
            static fromObject(object: { [k: string]: any }): fieldline.v1.MetricColumn;
            static toObject(message: fieldline.v1.MetricColumn, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
            static getTypeUrl(prefix?: string): string;
        }

        namespace MetricColumn {
            interface $Properties {
                name?: (string|null);
                present?: (Uint8Array|null);
                scale?: (number|null);
                scaledDelta?: (number[]|null);
                raw?: (number[]|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = fieldline.v1.MetricColumn.$Properties;
        }

        interface IAdapterStatus extends fieldline.v1.AdapterStatus.$Properties {
        }

        class AdapterStatus {
            constructor(properties?: fieldline.v1.AdapterStatus.$Properties);
            $unknowns?: Uint8Array[];
            name: string;
            state: string;
            detail: string;
            counters: { [k: string]: number };
            static create(properties: fieldline.v1.AdapterStatus.$Shape): fieldline.v1.AdapterStatus & fieldline.v1.AdapterStatus.$Shape;
            static create(properties?: fieldline.v1.AdapterStatus.$Properties): fieldline.v1.AdapterStatus;
            static encode(message: fieldline.v1.AdapterStatus.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): fieldline.v1.AdapterStatus & fieldline.v1.AdapterStatus.$Shape;
            static fromObject(object: { [k: string]: any }): fieldline.v1.AdapterStatus;
            static toObject(message: fieldline.v1.AdapterStatus, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
            static getTypeUrl(prefix?: string): string;
        }

        namespace AdapterStatus {
            interface $Properties {
                name?: (string|null);
                state?: (string|null);
                detail?: (string|null);
                counters?: ({ [k: string]: number }|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = fieldline.v1.AdapterStatus.$Properties;
        }

        interface IReasonCounts extends fieldline.v1.ReasonCounts.$Properties {
        }

        class ReasonCounts {
            constructor(properties?: fieldline.v1.ReasonCounts.$Properties);
            $unknowns?: Uint8Array[];
            byReason: { [k: string]: number };
            static create(properties: fieldline.v1.ReasonCounts.$Shape): fieldline.v1.ReasonCounts & fieldline.v1.ReasonCounts.$Shape;
            static create(properties?: fieldline.v1.ReasonCounts.$Properties): fieldline.v1.ReasonCounts;
            static encode(message: fieldline.v1.ReasonCounts.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): fieldline.v1.ReasonCounts & fieldline.v1.ReasonCounts.$Shape;
            static fromObject(object: { [k: string]: any }): fieldline.v1.ReasonCounts;
            static toObject(message: fieldline.v1.ReasonCounts, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
            static getTypeUrl(prefix?: string): string;
        }

        namespace ReasonCounts {
            interface $Properties {
                byReason?: ({ [k: string]: number }|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = fieldline.v1.ReasonCounts.$Properties;
        }

        interface ILossCounters extends fieldline.v1.LossCounters.$Properties {
        }

        class LossCounters {
            constructor(properties?: fieldline.v1.LossCounters.$Properties);
            $unknowns?: Uint8Array[];
            rateLimited: number;
            quarantined: number;
            evicted: number;
            static create(properties: fieldline.v1.LossCounters.$Shape): fieldline.v1.LossCounters & fieldline.v1.LossCounters.$Shape;
            static create(properties?: fieldline.v1.LossCounters.$Properties): fieldline.v1.LossCounters;
            static encode(message: fieldline.v1.LossCounters.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): fieldline.v1.LossCounters & fieldline.v1.LossCounters.$Shape;
            static fromObject(object: { [k: string]: any }): fieldline.v1.LossCounters;
            static toObject(message: fieldline.v1.LossCounters, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
            static getTypeUrl(prefix?: string): string;
        }

        namespace LossCounters {
            interface $Properties {
                rateLimited?: (number|null);
                quarantined?: (number|null);
                evicted?: (number|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = fieldline.v1.LossCounters.$Properties;
        }

        interface IHeartbeat extends fieldline.v1.Heartbeat.$Properties {
        }

        class Heartbeat {
            constructor(properties?: fieldline.v1.Heartbeat.$Properties);
            $unknowns?: Uint8Array[];
            gatewayId: string;
            tsMs: number;
            firmwareVersion: string;
            uptimeS: number;
            cpuPercent: number;
            memoryUsedBytes: number;
            memoryTotalBytes: number;
            diskFreeBytes: number;
            diskTotalBytes: number;
            temperatureC?: (number|null);
            outboxDepth: number;
            outboxOldestAgeMs: number;
            adapters: fieldline.v1.AdapterStatus.$Properties[];
            loss?: (fieldline.v1.LossCounters.$Properties|null);
            deviceLoss: { [k: string]: fieldline.v1.LossCounters.$Properties };
            deviceRefusals: { [k: string]: fieldline.v1.ReasonCounts.$Properties };
            refusals: { [k: string]: number };
            drainSentPerSecond: number;
            drainInPerSecond: number;
            drainEtaS?: (number|null);
            outboxBytes: number;
            outboxFull: string;
            outboxRecovered: string;
            intervalMs: number;
            delayed: boolean;
            configVersion: number;
            configError: string;
            configConflict: string;
            configSource: string;
            configSeenVersion: number;
            clockSynced: boolean;
            clockOffsetMs: number;
            clockSource: string;
            static create(properties: fieldline.v1.Heartbeat.$Shape): fieldline.v1.Heartbeat & fieldline.v1.Heartbeat.$Shape;
            static create(properties?: fieldline.v1.Heartbeat.$Properties): fieldline.v1.Heartbeat;
            static encode(message: fieldline.v1.Heartbeat.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): fieldline.v1.Heartbeat & fieldline.v1.Heartbeat.$Shape;
            static fromObject(object: { [k: string]: any }): fieldline.v1.Heartbeat;
            static toObject(message: fieldline.v1.Heartbeat, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
            static getTypeUrl(prefix?: string): string;
        }

        namespace Heartbeat {
            interface $Properties {
                gatewayId?: (string|null);
                tsMs?: (number|null);
                firmwareVersion?: (string|null);
                uptimeS?: (number|null);
                cpuPercent?: (number|null);
                memoryUsedBytes?: (number|null);
                memoryTotalBytes?: (number|null);
                diskFreeBytes?: (number|null);
                diskTotalBytes?: (number|null);
                temperatureC?: (number|null);
                outboxDepth?: (number|null);
                outboxOldestAgeMs?: (number|null);
                adapters?: (fieldline.v1.AdapterStatus.$Properties[]|null);
                loss?: (fieldline.v1.LossCounters.$Properties|null);
                deviceLoss?: ({ [k: string]: fieldline.v1.LossCounters.$Properties }|null);
                deviceRefusals?: ({ [k: string]: fieldline.v1.ReasonCounts.$Properties }|null);
                refusals?: ({ [k: string]: number }|null);
                drainSentPerSecond?: (number|null);
                drainInPerSecond?: (number|null);
                drainEtaS?: (number|null);
                outboxBytes?: (number|null);
                outboxFull?: (string|null);
                outboxRecovered?: (string|null);
                intervalMs?: (number|null);
                delayed?: (boolean|null);
                configVersion?: (number|null);
                configError?: (string|null);
                configConflict?: (string|null);
                configSource?: (string|null);
                configSeenVersion?: (number|null);
                clockSynced?: (boolean|null);
                clockOffsetMs?: (number|null);
                clockSource?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = fieldline.v1.Heartbeat.$Properties;
        }

        interface IQuarantinedReading extends fieldline.v1.QuarantinedReading.$Properties {
        }

        class QuarantinedReading {
            constructor(properties?: fieldline.v1.QuarantinedReading.$Properties);
            $unknowns?: Uint8Array[];
            gatewayId: string;
            deviceId: string;
            tsMs: number;
            raw: Uint8Array;
            source: fieldline.v1.SourceProtocol;
            reasonCode: string;
            reason: string;
            topic: string;
            static create(properties: fieldline.v1.QuarantinedReading.$Shape): fieldline.v1.QuarantinedReading & fieldline.v1.QuarantinedReading.$Shape;
            static create(properties?: fieldline.v1.QuarantinedReading.$Properties): fieldline.v1.QuarantinedReading;
            static encode(message: fieldline.v1.QuarantinedReading.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): fieldline.v1.QuarantinedReading & fieldline.v1.QuarantinedReading.$Shape;
            static fromObject(object: { [k: string]: any }): fieldline.v1.QuarantinedReading;
            static toObject(message: fieldline.v1.QuarantinedReading, options?: $protobuf.IConversionOptions): { [k: string]: any };
            toJSON(): { [k: string]: any };
            static getTypeUrl(prefix?: string): string;
        }

        namespace QuarantinedReading {
            interface $Properties {
                gatewayId?: (string|null);
                deviceId?: (string|null);
                tsMs?: (number|null);
                raw?: (Uint8Array|null);
                source?: (fieldline.v1.SourceProtocol|null);
                reasonCode?: (string|null);
                reason?: (string|null);
                topic?: (string|null);
                $unknowns?: Uint8Array[];
            }
            type $Shape = fieldline.v1.QuarantinedReading.$Properties;
        }
    }
}
