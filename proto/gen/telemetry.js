/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-mixed-operators, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars, default-case, jsdoc/require-param*/
import $protobuf from "protobufjs/minimal.js";

// Common aliases
const $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;
const $Object = $util.global.Object, $undefined = $util.global.undefined, $Error = $util.global.Error, $RangeError = $util.global.RangeError, $TypeError = $util.global.TypeError, $String = $util.global.String, $Number = $util.global.Number, $parseInt = $util.global.parseInt, $Boolean = $util.global.Boolean, $BigInt = $util.global.BigInt, $isFinite = $util.global.isFinite, $Array = $util.global.Array;

// Exported root namespace
const $root = $protobuf.roots["default"] || ($protobuf.roots["default"] = {});

export const fieldline = $root.fieldline = (() => {

    /**
     * Namespace fieldline.
     * @exports fieldline
     * @namespace
     */
    const fieldline = {};

    fieldline.v1 = (function() {

        /**
         * Namespace v1.
         * @memberof fieldline
         * @namespace
         */
        const v1 = {};

        /**
         * SourceProtocol enum.
         * @name fieldline.v1.SourceProtocol
         * @enum {number}
         * @property {number} SOURCE_PROTOCOL_UNSPECIFIED=0 SOURCE_PROTOCOL_UNSPECIFIED value
         * @property {number} SOURCE_PROTOCOL_MQTT=1 SOURCE_PROTOCOL_MQTT value
         * @property {number} SOURCE_PROTOCOL_COAP=2 SOURCE_PROTOCOL_COAP value
         * @property {number} SOURCE_PROTOCOL_MODBUS_RTU=3 SOURCE_PROTOCOL_MODBUS_RTU value
         * @property {number} SOURCE_PROTOCOL_MODBUS_TCP=4 SOURCE_PROTOCOL_MODBUS_TCP value
         */
        v1.SourceProtocol = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "SOURCE_PROTOCOL_UNSPECIFIED"] = 0;
            values[valuesById[1] = "SOURCE_PROTOCOL_MQTT"] = 1;
            values[valuesById[2] = "SOURCE_PROTOCOL_COAP"] = 2;
            values[valuesById[3] = "SOURCE_PROTOCOL_MODBUS_RTU"] = 3;
            values[valuesById[4] = "SOURCE_PROTOCOL_MODBUS_TCP"] = 4;
            return values;
        })();

        v1.Reading = (function() {

            /**
             * Properties of a Reading.
             * @typedef {Object} fieldline.v1.Reading.$Properties
             * @property {string|null} [deviceId] Reading deviceId
             * @property {number|null} [tsMs] Reading tsMs
             * @property {Object.<string,number>|null} [metrics] Reading metrics
             * @property {fieldline.v1.SourceProtocol|null} [source] Reading source
             * @property {Uint8Array|null} [raw] Reading raw
             * @property {string|null} [timeFlag] Reading timeFlag
             * @property {boolean|null} [timeCorrected] Reading timeCorrected
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Reading.
             * @memberof fieldline.v1
             * @interface IReading
             * @augments fieldline.v1.Reading.$Properties
             * @deprecated Use fieldline.v1.Reading.$Properties instead.
             */

            /**
             * Shape of a Reading.
             * @typedef {fieldline.v1.Reading.$Properties} fieldline.v1.Reading.$Shape
             */

            /**
             * Constructs a new Reading.
             * @memberof fieldline.v1
             * @classdesc Represents a Reading.
             * @constructor
             * @param {fieldline.v1.Reading.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Reading = function (properties) {
                this.metrics = {};
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Reading deviceId.
             * @member {string} deviceId
             * @memberof fieldline.v1.Reading
             * @instance
             */
            Reading.prototype.deviceId = "";

            /**
             * Reading tsMs.
             * @member {number} tsMs
             * @memberof fieldline.v1.Reading
             * @instance
             */
            Reading.prototype.tsMs = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * Reading metrics.
             * @member {Object.<string,number>} metrics
             * @memberof fieldline.v1.Reading
             * @instance
             */
            Reading.prototype.metrics = $util.emptyObject;

            /**
             * Reading source.
             * @member {fieldline.v1.SourceProtocol} source
             * @memberof fieldline.v1.Reading
             * @instance
             */
            Reading.prototype.source = 0;

            /**
             * Reading raw.
             * @member {Uint8Array|null|undefined} raw
             * @memberof fieldline.v1.Reading
             * @instance
             */
            Reading.prototype.raw = null;

            /**
             * Reading timeFlag.
             * @member {string} timeFlag
             * @memberof fieldline.v1.Reading
             * @instance
             */
            Reading.prototype.timeFlag = "";

            /**
             * Reading timeCorrected.
             * @member {boolean} timeCorrected
             * @memberof fieldline.v1.Reading
             * @instance
             */
            Reading.prototype.timeCorrected = false;

            // OneOf field names bound to virtual getters and setters
            let $oneOfFields;

            // Virtual OneOf for proto3 optional field
            $Object.defineProperty(Reading.prototype, "_raw", {
                get: $util.oneOfGetter($oneOfFields = ["raw"]),
                set: $util.oneOfSetter($oneOfFields)
            });

            /**
             * Creates a new Reading instance using the specified properties.
             * @function create
             * @memberof fieldline.v1.Reading
             * @static
             * @param {fieldline.v1.Reading.$Properties=} [properties] Properties to set
             * @returns {fieldline.v1.Reading} Reading instance
             * @type {{
             *   (properties: fieldline.v1.Reading.$Shape): fieldline.v1.Reading & fieldline.v1.Reading.$Shape;
             *   (properties?: fieldline.v1.Reading.$Properties): fieldline.v1.Reading;
             * }}
             */
            Reading.create = function(properties) {
                return new Reading(properties);
            };

            /**
             * Encodes the specified Reading message. Does not implicitly {@link fieldline.v1.Reading.verify|verify} messages.
             * @function encode
             * @memberof fieldline.v1.Reading
             * @static
             * @param {fieldline.v1.Reading.$Properties} message Reading message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Reading.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.deviceId != null && $Object.hasOwnProperty.call(message, "deviceId") && message.deviceId !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.deviceId);
                if (message.tsMs != null && $Object.hasOwnProperty.call(message, "tsMs") && (typeof message.tsMs === "object" ? message.tsMs.low || message.tsMs.high : message.tsMs !== 0))
                    writer.uint32(/* id 2, wireType 0 =*/16).int64(message.tsMs);
                if (message.metrics != null && $Object.hasOwnProperty.call(message, "metrics"))
                    for (let keys = $Object.keys(message.metrics), i = 0; i < keys.length; ++i)
                        writer.uint32(/* id 3, wireType 2 =*/26).fork().uint32(/* id 1, wireType 2 =*/10).string(keys[i]).uint32(/* id 2, wireType 1 =*/17).double(message.metrics[keys[i]]).ldelim();
                if (message.source != null && $Object.hasOwnProperty.call(message, "source") && message.source !== 0)
                    writer.uint32(/* id 4, wireType 0 =*/32).int32(message.source);
                if (message.raw != null && $Object.hasOwnProperty.call(message, "raw"))
                    writer.uint32(/* id 5, wireType 2 =*/42).bytes(message.raw);
                if (message.timeFlag != null && $Object.hasOwnProperty.call(message, "timeFlag") && message.timeFlag !== "")
                    writer.uint32(/* id 6, wireType 2 =*/50).string(message.timeFlag);
                if (message.timeCorrected != null && $Object.hasOwnProperty.call(message, "timeCorrected") && message.timeCorrected !== false)
                    writer.uint32(/* id 7, wireType 0 =*/56).bool(message.timeCorrected);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Reading message from the specified reader or buffer.
             * @function decode
             * @memberof fieldline.v1.Reading
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {fieldline.v1.Reading & fieldline.v1.Reading.$Shape} Reading
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Reading.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, key, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.fieldline.v1.Reading();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.deviceId = value;
                            else
                                delete message.deviceId;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.tsMs = value;
                            else
                                delete message.tsMs;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if (message.metrics === $util.emptyObject)
                                message.metrics = {};
                            let end2 = reader.size() + reader.pos;
                            if (end2 > reader.len)
                                throw $RangeError("index out of range");
                            reader.len = end2;
                            key = "";
                            value = 0;
                            while (reader.pos < end2) {
                                let tag2 = reader.tag();
                                wireType = tag2 & 7;
                                switch (tag2 >>>= 3) {
                                case 1:
                                    if (wireType !== 2)
                                        break;
                                    key = reader.stringVerify();
                                    continue;
                                case 2:
                                    if (wireType !== 1)
                                        break;
                                    value = reader.double();
                                    continue;
                                }
                                reader.skipType(wireType, _depth, tag2);
                            }
                            if (reader.pos !== end2)
                                throw $RangeError("index out of range");
                            reader.len = end;
                            if (key === "__proto__")
                                $util.makeProp(message.metrics, key);
                            message.metrics[key] = value;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.source = value;
                            else
                                delete message.source;
                            continue;
                        }
                    case 5: {
                            if (wireType !== 2)
                                break;
                            message.raw = reader.bytes();
                            message._raw = "raw";
                            continue;
                        }
                    case 6: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.timeFlag = value;
                            else
                                delete message.timeFlag;
                            continue;
                        }
                    case 7: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.timeCorrected = value;
                            else
                                delete message.timeCorrected;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Creates a Reading message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof fieldline.v1.Reading
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {fieldline.v1.Reading} Reading
             */
            Reading.fromObject = function (object, _depth) {
                if (object instanceof $root.fieldline.v1.Reading)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".fieldline.v1.Reading: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.fieldline.v1.Reading();
                if (object.deviceId != null)
                    if (typeof object.deviceId !== "string" || object.deviceId.length)
                        message.deviceId = $String(object.deviceId);
                if (object.tsMs != null)
                    if (typeof object.tsMs === "object" ? object.tsMs.low || object.tsMs.high : $Number(object.tsMs) !== 0)
                        if ($util.Long)
                            message.tsMs = $util.Long.fromValue(object.tsMs, false);
                        else if (typeof object.tsMs === "string")
                            message.tsMs = $parseInt(object.tsMs, 10);
                        else if (typeof object.tsMs === "number")
                            message.tsMs = object.tsMs;
                        else if (typeof object.tsMs === "object")
                            message.tsMs = new $util.LongBits(object.tsMs.low >>> 0, object.tsMs.high >>> 0).toNumber();
                if (object.metrics) {
                    if (!$util.isObject(object.metrics))
                        throw $TypeError(".fieldline.v1.Reading.metrics: object expected");
                    message.metrics = {};
                    for (let keys = $Object.keys(object.metrics), i = 0; i < keys.length; ++i) {
                        if (keys[i] === "__proto__")
                            $util.makeProp(message.metrics, keys[i]);
                        message.metrics[keys[i]] = $Number(object.metrics[keys[i]]);
                    }
                }
                if (object.source !== 0 && (typeof object.source !== "string" || $root.fieldline.v1.SourceProtocol[object.source] !== 0))
                    switch (object.source) {
                    case "SOURCE_PROTOCOL_UNSPECIFIED":
                    case 0:
                        message.source = 0;
                        break;
                    case "SOURCE_PROTOCOL_MQTT":
                    case 1:
                        message.source = 1;
                        break;
                    case "SOURCE_PROTOCOL_COAP":
                    case 2:
                        message.source = 2;
                        break;
                    case "SOURCE_PROTOCOL_MODBUS_RTU":
                    case 3:
                        message.source = 3;
                        break;
                    case "SOURCE_PROTOCOL_MODBUS_TCP":
                    case 4:
                        message.source = 4;
                        break;
                    default:
                        if (typeof object.source === "number" && (object.source | 0) === object.source)
                            message.source = object.source;
                    }
                if (object.raw != null)
                    if (typeof object.raw === "string")
                        $util.base64.decode(object.raw, message.raw = $util.newBuffer($util.base64.length(object.raw)), 0);
                    else if (object.raw.length >= 0)
                        message.raw = object.raw;
                if (object.timeFlag != null)
                    if (typeof object.timeFlag !== "string" || object.timeFlag.length)
                        message.timeFlag = $String(object.timeFlag);
                if (object.timeCorrected != null)
                    if (object.timeCorrected)
                        message.timeCorrected = $Boolean(object.timeCorrected);
                return message;
            };

            /**
             * Creates a plain object from a Reading message. Also converts values to other types if specified.
             * @function toObject
             * @memberof fieldline.v1.Reading
             * @static
             * @param {fieldline.v1.Reading} message Reading
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            Reading.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.objects || options.defaults)
                    object.metrics = {};
                if (options.defaults) {
                    object.deviceId = "";
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, false);
                        object.tsMs = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.tsMs = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.source = options.enums === $String ? "SOURCE_PROTOCOL_UNSPECIFIED" : 0;
                    object.timeFlag = "";
                    object.timeCorrected = false;
                }
                if (message.deviceId != null && $Object.hasOwnProperty.call(message, "deviceId"))
                    object.deviceId = message.deviceId;
                if (message.tsMs != null && $Object.hasOwnProperty.call(message, "tsMs"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.tsMs = typeof message.tsMs === "number" ? $BigInt(message.tsMs) : $util.Long.fromBits(message.tsMs.low >>> 0, message.tsMs.high >>> 0, false).toBigInt();
                    else if (typeof message.tsMs === "number")
                        object.tsMs = options.longs === $String ? $String(message.tsMs) : message.tsMs;
                    else
                        object.tsMs = options.longs === $String ? $util.Long.prototype.toString.call(message.tsMs) : options.longs === $Number ? new $util.LongBits(message.tsMs.low >>> 0, message.tsMs.high >>> 0).toNumber() : message.tsMs;
                let keys2;
                if (message.metrics && (keys2 = $Object.keys(message.metrics)).length) {
                    object.metrics = {};
                    for (let j = 0; j < keys2.length; ++j) {
                        if (keys2[j] === "__proto__")
                            $util.makeProp(object.metrics, keys2[j]);
                        object.metrics[keys2[j]] = options.json && !$isFinite(message.metrics[keys2[j]]) ? $String(message.metrics[keys2[j]]) : message.metrics[keys2[j]];
                    }
                }
                if (message.source != null && $Object.hasOwnProperty.call(message, "source"))
                    object.source = options.enums === $String ? $root.fieldline.v1.SourceProtocol[message.source] === $undefined ? message.source : $root.fieldline.v1.SourceProtocol[message.source] : message.source;
                if (message.raw != null && $Object.hasOwnProperty.call(message, "raw"))
                    object.raw = options.bytes === $String ? $util.base64.encode(message.raw, 0, message.raw.length) : options.bytes === $Array ? $Array.prototype.slice.call(message.raw) : message.raw;
                if (message.timeFlag != null && $Object.hasOwnProperty.call(message, "timeFlag"))
                    object.timeFlag = message.timeFlag;
                if (message.timeCorrected != null && $Object.hasOwnProperty.call(message, "timeCorrected"))
                    object.timeCorrected = message.timeCorrected;
                return object;
            };

            /**
             * Converts this Reading to JSON.
             * @function toJSON
             * @memberof fieldline.v1.Reading
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            Reading.prototype.toJSON = function() {
                return Reading.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for Reading
             * @function getTypeUrl
             * @memberof fieldline.v1.Reading
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Reading.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/fieldline.v1.Reading";
            };

            return Reading;
        })();

        v1.ReadingBatch = (function() {

            /**
             * Properties of a ReadingBatch.
             * @typedef {Object} fieldline.v1.ReadingBatch.$Properties
             * @property {string|null} [gatewayId] ReadingBatch gatewayId
             * @property {number|null} [seq] ReadingBatch seq
             * @property {number|null} [createdMs] ReadingBatch createdMs
             * @property {Array.<fieldline.v1.Reading.$Properties>|null} [readings] ReadingBatch readings
             * @property {number|null} [schemaVersion] ReadingBatch schemaVersion
             * @property {boolean|null} [backlog] ReadingBatch backlog
             * @property {Array.<fieldline.v1.DeviceColumns.$Properties>|null} [columns] ReadingBatch columns
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a ReadingBatch.
             * @memberof fieldline.v1
             * @interface IReadingBatch
             * @augments fieldline.v1.ReadingBatch.$Properties
             * @deprecated Use fieldline.v1.ReadingBatch.$Properties instead.
             */

            /**
             * Shape of a ReadingBatch.
             * @typedef {fieldline.v1.ReadingBatch.$Properties} fieldline.v1.ReadingBatch.$Shape
             */

            /**
             * Constructs a new ReadingBatch.
             * @memberof fieldline.v1
             * @classdesc Represents a ReadingBatch.
             * @constructor
             * @param {fieldline.v1.ReadingBatch.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const ReadingBatch = function (properties) {
                this.readings = [];
                this.columns = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * ReadingBatch gatewayId.
             * @member {string} gatewayId
             * @memberof fieldline.v1.ReadingBatch
             * @instance
             */
            ReadingBatch.prototype.gatewayId = "";

            /**
             * ReadingBatch seq.
             * @member {number} seq
             * @memberof fieldline.v1.ReadingBatch
             * @instance
             */
            ReadingBatch.prototype.seq = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * ReadingBatch createdMs.
             * @member {number} createdMs
             * @memberof fieldline.v1.ReadingBatch
             * @instance
             */
            ReadingBatch.prototype.createdMs = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * ReadingBatch readings.
             * @member {Array.<fieldline.v1.Reading.$Properties>} readings
             * @memberof fieldline.v1.ReadingBatch
             * @instance
             */
            ReadingBatch.prototype.readings = $util.emptyArray;

            /**
             * ReadingBatch schemaVersion.
             * @member {number} schemaVersion
             * @memberof fieldline.v1.ReadingBatch
             * @instance
             */
            ReadingBatch.prototype.schemaVersion = 0;

            /**
             * ReadingBatch backlog.
             * @member {boolean} backlog
             * @memberof fieldline.v1.ReadingBatch
             * @instance
             */
            ReadingBatch.prototype.backlog = false;

            /**
             * ReadingBatch columns.
             * @member {Array.<fieldline.v1.DeviceColumns.$Properties>} columns
             * @memberof fieldline.v1.ReadingBatch
             * @instance
             */
            ReadingBatch.prototype.columns = $util.emptyArray;

            /**
             * Creates a new ReadingBatch instance using the specified properties.
             * @function create
             * @memberof fieldline.v1.ReadingBatch
             * @static
             * @param {fieldline.v1.ReadingBatch.$Properties=} [properties] Properties to set
             * @returns {fieldline.v1.ReadingBatch} ReadingBatch instance
             * @type {{
             *   (properties: fieldline.v1.ReadingBatch.$Shape): fieldline.v1.ReadingBatch & fieldline.v1.ReadingBatch.$Shape;
             *   (properties?: fieldline.v1.ReadingBatch.$Properties): fieldline.v1.ReadingBatch;
             * }}
             */
            ReadingBatch.create = function(properties) {
                return new ReadingBatch(properties);
            };

            /**
             * Encodes the specified ReadingBatch message. Does not implicitly {@link fieldline.v1.ReadingBatch.verify|verify} messages.
             * @function encode
             * @memberof fieldline.v1.ReadingBatch
             * @static
             * @param {fieldline.v1.ReadingBatch.$Properties} message ReadingBatch message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            ReadingBatch.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.gatewayId != null && $Object.hasOwnProperty.call(message, "gatewayId") && message.gatewayId !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.gatewayId);
                if (message.seq != null && $Object.hasOwnProperty.call(message, "seq") && (typeof message.seq === "object" ? message.seq.low || message.seq.high : message.seq !== 0))
                    writer.uint32(/* id 2, wireType 0 =*/16).uint64(message.seq);
                if (message.createdMs != null && $Object.hasOwnProperty.call(message, "createdMs") && (typeof message.createdMs === "object" ? message.createdMs.low || message.createdMs.high : message.createdMs !== 0))
                    writer.uint32(/* id 3, wireType 0 =*/24).int64(message.createdMs);
                if (message.readings != null && message.readings.length)
                    for (let i = 0; i < message.readings.length; ++i)
                        $root.fieldline.v1.Reading.encode(message.readings[i], writer.uint32(/* id 4, wireType 2 =*/34).fork(), _depth + 1).ldelim();
                if (message.schemaVersion != null && $Object.hasOwnProperty.call(message, "schemaVersion") && message.schemaVersion !== 0)
                    writer.uint32(/* id 5, wireType 0 =*/40).uint32(message.schemaVersion);
                if (message.backlog != null && $Object.hasOwnProperty.call(message, "backlog") && message.backlog !== false)
                    writer.uint32(/* id 6, wireType 0 =*/48).bool(message.backlog);
                if (message.columns != null && message.columns.length)
                    for (let i = 0; i < message.columns.length; ++i)
                        $root.fieldline.v1.DeviceColumns.encode(message.columns[i], writer.uint32(/* id 7, wireType 2 =*/58).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a ReadingBatch message from the specified reader or buffer.
             * @function decode
             * @memberof fieldline.v1.ReadingBatch
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {fieldline.v1.ReadingBatch & fieldline.v1.ReadingBatch.$Shape} ReadingBatch
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            ReadingBatch.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.fieldline.v1.ReadingBatch();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.gatewayId = value;
                            else
                                delete message.gatewayId;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.seq = value;
                            else
                                delete message.seq;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.createdMs = value;
                            else
                                delete message.createdMs;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            if (!(message.readings && message.readings.length))
                                message.readings = [];
                            message.readings.push($root.fieldline.v1.Reading.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 5: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.schemaVersion = value;
                            else
                                delete message.schemaVersion;
                            continue;
                        }
                    case 6: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.backlog = value;
                            else
                                delete message.backlog;
                            continue;
                        }
                    case 7: {
                            if (wireType !== 2)
                                break;
                            if (!(message.columns && message.columns.length))
                                message.columns = [];
                            message.columns.push($root.fieldline.v1.DeviceColumns.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Creates a ReadingBatch message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof fieldline.v1.ReadingBatch
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {fieldline.v1.ReadingBatch} ReadingBatch
             */
            ReadingBatch.fromObject = function (object, _depth) {
                if (object instanceof $root.fieldline.v1.ReadingBatch)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".fieldline.v1.ReadingBatch: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.fieldline.v1.ReadingBatch();
                if (object.gatewayId != null)
                    if (typeof object.gatewayId !== "string" || object.gatewayId.length)
                        message.gatewayId = $String(object.gatewayId);
                if (object.seq != null)
                    if (typeof object.seq === "object" ? object.seq.low || object.seq.high : $Number(object.seq) !== 0)
                        if ($util.Long)
                            message.seq = $util.Long.fromValue(object.seq, true);
                        else if (typeof object.seq === "string")
                            message.seq = $parseInt(object.seq, 10);
                        else if (typeof object.seq === "number")
                            message.seq = object.seq;
                        else if (typeof object.seq === "object")
                            message.seq = new $util.LongBits(object.seq.low >>> 0, object.seq.high >>> 0).toNumber(true);
                if (object.createdMs != null)
                    if (typeof object.createdMs === "object" ? object.createdMs.low || object.createdMs.high : $Number(object.createdMs) !== 0)
                        if ($util.Long)
                            message.createdMs = $util.Long.fromValue(object.createdMs, false);
                        else if (typeof object.createdMs === "string")
                            message.createdMs = $parseInt(object.createdMs, 10);
                        else if (typeof object.createdMs === "number")
                            message.createdMs = object.createdMs;
                        else if (typeof object.createdMs === "object")
                            message.createdMs = new $util.LongBits(object.createdMs.low >>> 0, object.createdMs.high >>> 0).toNumber();
                if (object.readings) {
                    if (!$Array.isArray(object.readings))
                        throw $TypeError(".fieldline.v1.ReadingBatch.readings: array expected");
                    message.readings = $Array(object.readings.length);
                    for (let i = 0; i < object.readings.length; ++i) {
                        if (!$util.isObject(object.readings[i]))
                            throw $TypeError(".fieldline.v1.ReadingBatch.readings: object expected");
                        message.readings[i] = $root.fieldline.v1.Reading.fromObject(object.readings[i], _depth + 1);
                    }
                }
                if (object.schemaVersion != null)
                    if ($Number(object.schemaVersion) !== 0)
                        message.schemaVersion = object.schemaVersion >>> 0;
                if (object.backlog != null)
                    if (object.backlog)
                        message.backlog = $Boolean(object.backlog);
                if (object.columns) {
                    if (!$Array.isArray(object.columns))
                        throw $TypeError(".fieldline.v1.ReadingBatch.columns: array expected");
                    message.columns = $Array(object.columns.length);
                    for (let i = 0; i < object.columns.length; ++i) {
                        if (!$util.isObject(object.columns[i]))
                            throw $TypeError(".fieldline.v1.ReadingBatch.columns: object expected");
                        message.columns[i] = $root.fieldline.v1.DeviceColumns.fromObject(object.columns[i], _depth + 1);
                    }
                }
                return message;
            };

            /**
             * Creates a plain object from a ReadingBatch message. Also converts values to other types if specified.
             * @function toObject
             * @memberof fieldline.v1.ReadingBatch
             * @static
             * @param {fieldline.v1.ReadingBatch} message ReadingBatch
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            ReadingBatch.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.arrays || options.defaults) {
                    object.readings = [];
                    object.columns = [];
                }
                if (options.defaults) {
                    object.gatewayId = "";
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.seq = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.seq = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, false);
                        object.createdMs = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.createdMs = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.schemaVersion = 0;
                    object.backlog = false;
                }
                if (message.gatewayId != null && $Object.hasOwnProperty.call(message, "gatewayId"))
                    object.gatewayId = message.gatewayId;
                if (message.seq != null && $Object.hasOwnProperty.call(message, "seq"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.seq = typeof message.seq === "number" ? $BigInt(message.seq) : $util.Long.fromBits(message.seq.low >>> 0, message.seq.high >>> 0, true).toBigInt();
                    else if (typeof message.seq === "number")
                        object.seq = options.longs === $String ? $String(message.seq) : message.seq;
                    else
                        object.seq = options.longs === $String ? $util.Long.prototype.toString.call(message.seq) : options.longs === $Number ? new $util.LongBits(message.seq.low >>> 0, message.seq.high >>> 0).toNumber(true) : message.seq;
                if (message.createdMs != null && $Object.hasOwnProperty.call(message, "createdMs"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.createdMs = typeof message.createdMs === "number" ? $BigInt(message.createdMs) : $util.Long.fromBits(message.createdMs.low >>> 0, message.createdMs.high >>> 0, false).toBigInt();
                    else if (typeof message.createdMs === "number")
                        object.createdMs = options.longs === $String ? $String(message.createdMs) : message.createdMs;
                    else
                        object.createdMs = options.longs === $String ? $util.Long.prototype.toString.call(message.createdMs) : options.longs === $Number ? new $util.LongBits(message.createdMs.low >>> 0, message.createdMs.high >>> 0).toNumber() : message.createdMs;
                if (message.readings && message.readings.length) {
                    object.readings = $Array(message.readings.length);
                    for (let j = 0; j < message.readings.length; ++j)
                        object.readings[j] = $root.fieldline.v1.Reading.toObject(message.readings[j], options, _depth + 1);
                }
                if (message.schemaVersion != null && $Object.hasOwnProperty.call(message, "schemaVersion"))
                    object.schemaVersion = message.schemaVersion;
                if (message.backlog != null && $Object.hasOwnProperty.call(message, "backlog"))
                    object.backlog = message.backlog;
                if (message.columns && message.columns.length) {
                    object.columns = $Array(message.columns.length);
                    for (let j = 0; j < message.columns.length; ++j)
                        object.columns[j] = $root.fieldline.v1.DeviceColumns.toObject(message.columns[j], options, _depth + 1);
                }
                return object;
            };

            /**
             * Converts this ReadingBatch to JSON.
             * @function toJSON
             * @memberof fieldline.v1.ReadingBatch
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            ReadingBatch.prototype.toJSON = function() {
                return ReadingBatch.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for ReadingBatch
             * @function getTypeUrl
             * @memberof fieldline.v1.ReadingBatch
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            ReadingBatch.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/fieldline.v1.ReadingBatch";
            };

            return ReadingBatch;
        })();

        v1.DeviceColumns = (function() {

            /**
             * Properties of a DeviceColumns.
             * @typedef {Object} fieldline.v1.DeviceColumns.$Properties
             * @property {string|null} [deviceId] DeviceColumns deviceId
             * @property {fieldline.v1.SourceProtocol|null} [source] DeviceColumns source
             * @property {number|null} [readingsBefore] DeviceColumns readingsBefore
             * @property {Array.<number>|null} [tsMsDelta] DeviceColumns tsMsDelta
             * @property {Array.<fieldline.v1.MetricColumn.$Properties>|null} [metrics] DeviceColumns metrics
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a DeviceColumns.
             * @memberof fieldline.v1
             * @interface IDeviceColumns
             * @augments fieldline.v1.DeviceColumns.$Properties
             * @deprecated Use fieldline.v1.DeviceColumns.$Properties instead.
             */

            /**
             * Shape of a DeviceColumns.
             * @typedef {fieldline.v1.DeviceColumns.$Properties} fieldline.v1.DeviceColumns.$Shape
             */

            /**
             * Constructs a new DeviceColumns.
             * @memberof fieldline.v1
             * @classdesc Represents a DeviceColumns.
             * @constructor
             * @param {fieldline.v1.DeviceColumns.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const DeviceColumns = function (properties) {
                this.tsMsDelta = [];
                this.metrics = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * DeviceColumns deviceId.
             * @member {string} deviceId
             * @memberof fieldline.v1.DeviceColumns
             * @instance
             */
            DeviceColumns.prototype.deviceId = "";

            /**
             * DeviceColumns source.
             * @member {fieldline.v1.SourceProtocol} source
             * @memberof fieldline.v1.DeviceColumns
             * @instance
             */
            DeviceColumns.prototype.source = 0;

            /**
             * DeviceColumns readingsBefore.
             * @member {number} readingsBefore
             * @memberof fieldline.v1.DeviceColumns
             * @instance
             */
            DeviceColumns.prototype.readingsBefore = 0;

            /**
             * DeviceColumns tsMsDelta.
             * @member {Array.<number>} tsMsDelta
             * @memberof fieldline.v1.DeviceColumns
             * @instance
             */
            DeviceColumns.prototype.tsMsDelta = $util.emptyArray;

            /**
             * DeviceColumns metrics.
             * @member {Array.<fieldline.v1.MetricColumn.$Properties>} metrics
             * @memberof fieldline.v1.DeviceColumns
             * @instance
             */
            DeviceColumns.prototype.metrics = $util.emptyArray;

            /**
             * Creates a new DeviceColumns instance using the specified properties.
             * @function create
             * @memberof fieldline.v1.DeviceColumns
             * @static
             * @param {fieldline.v1.DeviceColumns.$Properties=} [properties] Properties to set
             * @returns {fieldline.v1.DeviceColumns} DeviceColumns instance
             * @type {{
             *   (properties: fieldline.v1.DeviceColumns.$Shape): fieldline.v1.DeviceColumns & fieldline.v1.DeviceColumns.$Shape;
             *   (properties?: fieldline.v1.DeviceColumns.$Properties): fieldline.v1.DeviceColumns;
             * }}
             */
            DeviceColumns.create = function(properties) {
                return new DeviceColumns(properties);
            };

            /**
             * Encodes the specified DeviceColumns message. Does not implicitly {@link fieldline.v1.DeviceColumns.verify|verify} messages.
             * @function encode
             * @memberof fieldline.v1.DeviceColumns
             * @static
             * @param {fieldline.v1.DeviceColumns.$Properties} message DeviceColumns message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            DeviceColumns.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.deviceId != null && $Object.hasOwnProperty.call(message, "deviceId") && message.deviceId !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.deviceId);
                if (message.source != null && $Object.hasOwnProperty.call(message, "source") && message.source !== 0)
                    writer.uint32(/* id 2, wireType 0 =*/16).int32(message.source);
                if (message.readingsBefore != null && $Object.hasOwnProperty.call(message, "readingsBefore") && message.readingsBefore !== 0)
                    writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.readingsBefore);
                if (message.tsMsDelta != null && message.tsMsDelta.length)
                    writer.uint32(/* id 4, wireType 2 =*/34).sint64s(message.tsMsDelta);
                if (message.metrics != null && message.metrics.length)
                    for (let i = 0; i < message.metrics.length; ++i)
                        $root.fieldline.v1.MetricColumn.encode(message.metrics[i], writer.uint32(/* id 5, wireType 2 =*/42).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a DeviceColumns message from the specified reader or buffer.
             * @function decode
             * @memberof fieldline.v1.DeviceColumns
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {fieldline.v1.DeviceColumns & fieldline.v1.DeviceColumns.$Shape} DeviceColumns
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            DeviceColumns.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.fieldline.v1.DeviceColumns();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.deviceId = value;
                            else
                                delete message.deviceId;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.source = value;
                            else
                                delete message.source;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.readingsBefore = value;
                            else
                                delete message.readingsBefore;
                            continue;
                        }
                    case 4: {
                            if (wireType === 2) {
                                if (!(message.tsMsDelta && message.tsMsDelta.length))
                                    message.tsMsDelta = [];
                                reader.sint64s(message.tsMsDelta);
                                continue;
                            }
                            if (wireType !== 0)
                                break;
                            if (!(message.tsMsDelta && message.tsMsDelta.length))
                                message.tsMsDelta = [];
                            message.tsMsDelta.push(reader.sint64());
                            continue;
                        }
                    case 5: {
                            if (wireType !== 2)
                                break;
                            if (!(message.metrics && message.metrics.length))
                                message.metrics = [];
                            message.metrics.push($root.fieldline.v1.MetricColumn.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Creates a DeviceColumns message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof fieldline.v1.DeviceColumns
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {fieldline.v1.DeviceColumns} DeviceColumns
             */
            DeviceColumns.fromObject = function (object, _depth) {
                if (object instanceof $root.fieldline.v1.DeviceColumns)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".fieldline.v1.DeviceColumns: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.fieldline.v1.DeviceColumns();
                if (object.deviceId != null)
                    if (typeof object.deviceId !== "string" || object.deviceId.length)
                        message.deviceId = $String(object.deviceId);
                if (object.source !== 0 && (typeof object.source !== "string" || $root.fieldline.v1.SourceProtocol[object.source] !== 0))
                    switch (object.source) {
                    case "SOURCE_PROTOCOL_UNSPECIFIED":
                    case 0:
                        message.source = 0;
                        break;
                    case "SOURCE_PROTOCOL_MQTT":
                    case 1:
                        message.source = 1;
                        break;
                    case "SOURCE_PROTOCOL_COAP":
                    case 2:
                        message.source = 2;
                        break;
                    case "SOURCE_PROTOCOL_MODBUS_RTU":
                    case 3:
                        message.source = 3;
                        break;
                    case "SOURCE_PROTOCOL_MODBUS_TCP":
                    case 4:
                        message.source = 4;
                        break;
                    default:
                        if (typeof object.source === "number" && (object.source | 0) === object.source)
                            message.source = object.source;
                    }
                if (object.readingsBefore != null)
                    if ($Number(object.readingsBefore) !== 0)
                        message.readingsBefore = object.readingsBefore >>> 0;
                if (object.tsMsDelta) {
                    if (!$Array.isArray(object.tsMsDelta))
                        throw $TypeError(".fieldline.v1.DeviceColumns.tsMsDelta: array expected");
                    message.tsMsDelta = $Array(object.tsMsDelta.length);
                    for (let i = 0; i < object.tsMsDelta.length; ++i)
                        if ($util.Long)
                            message.tsMsDelta[i] = $util.Long.fromValue(object.tsMsDelta[i], false);
                        else if (typeof object.tsMsDelta[i] === "string")
                            message.tsMsDelta[i] = $parseInt(object.tsMsDelta[i], 10);
                        else if (typeof object.tsMsDelta[i] === "number")
                            message.tsMsDelta[i] = object.tsMsDelta[i];
                        else if (typeof object.tsMsDelta[i] === "object")
                            message.tsMsDelta[i] = new $util.LongBits(object.tsMsDelta[i].low >>> 0, object.tsMsDelta[i].high >>> 0).toNumber();
                }
                if (object.metrics) {
                    if (!$Array.isArray(object.metrics))
                        throw $TypeError(".fieldline.v1.DeviceColumns.metrics: array expected");
                    message.metrics = $Array(object.metrics.length);
                    for (let i = 0; i < object.metrics.length; ++i) {
                        if (!$util.isObject(object.metrics[i]))
                            throw $TypeError(".fieldline.v1.DeviceColumns.metrics: object expected");
                        message.metrics[i] = $root.fieldline.v1.MetricColumn.fromObject(object.metrics[i], _depth + 1);
                    }
                }
                return message;
            };

            /**
             * Creates a plain object from a DeviceColumns message. Also converts values to other types if specified.
             * @function toObject
             * @memberof fieldline.v1.DeviceColumns
             * @static
             * @param {fieldline.v1.DeviceColumns} message DeviceColumns
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            DeviceColumns.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.arrays || options.defaults) {
                    object.tsMsDelta = [];
                    object.metrics = [];
                }
                if (options.defaults) {
                    object.deviceId = "";
                    object.source = options.enums === $String ? "SOURCE_PROTOCOL_UNSPECIFIED" : 0;
                    object.readingsBefore = 0;
                }
                if (message.deviceId != null && $Object.hasOwnProperty.call(message, "deviceId"))
                    object.deviceId = message.deviceId;
                if (message.source != null && $Object.hasOwnProperty.call(message, "source"))
                    object.source = options.enums === $String ? $root.fieldline.v1.SourceProtocol[message.source] === $undefined ? message.source : $root.fieldline.v1.SourceProtocol[message.source] : message.source;
                if (message.readingsBefore != null && $Object.hasOwnProperty.call(message, "readingsBefore"))
                    object.readingsBefore = message.readingsBefore;
                if (message.tsMsDelta && message.tsMsDelta.length) {
                    object.tsMsDelta = $Array(message.tsMsDelta.length);
                    for (let j = 0; j < message.tsMsDelta.length; ++j)
                        if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                            object.tsMsDelta[j] = typeof message.tsMsDelta[j] === "number" ? $BigInt(message.tsMsDelta[j]) : $util.Long.fromBits(message.tsMsDelta[j].low >>> 0, message.tsMsDelta[j].high >>> 0, false).toBigInt();
                        else if (typeof message.tsMsDelta[j] === "number")
                            object.tsMsDelta[j] = options.longs === $String ? $String(message.tsMsDelta[j]) : message.tsMsDelta[j];
                        else
                            object.tsMsDelta[j] = options.longs === $String ? $util.Long.prototype.toString.call(message.tsMsDelta[j]) : options.longs === $Number ? new $util.LongBits(message.tsMsDelta[j].low >>> 0, message.tsMsDelta[j].high >>> 0).toNumber() : message.tsMsDelta[j];
                }
                if (message.metrics && message.metrics.length) {
                    object.metrics = $Array(message.metrics.length);
                    for (let j = 0; j < message.metrics.length; ++j)
                        object.metrics[j] = $root.fieldline.v1.MetricColumn.toObject(message.metrics[j], options, _depth + 1);
                }
                return object;
            };

            /**
             * Converts this DeviceColumns to JSON.
             * @function toJSON
             * @memberof fieldline.v1.DeviceColumns
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            DeviceColumns.prototype.toJSON = function() {
                return DeviceColumns.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for DeviceColumns
             * @function getTypeUrl
             * @memberof fieldline.v1.DeviceColumns
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            DeviceColumns.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/fieldline.v1.DeviceColumns";
            };

            return DeviceColumns;
        })();

        v1.MetricColumn = (function() {

            /**
             * Properties of a MetricColumn.
             * @typedef {Object} fieldline.v1.MetricColumn.$Properties
             * @property {string|null} [name] MetricColumn name
             * @property {Uint8Array|null} [present] MetricColumn present
             * @property {number|null} [scale] MetricColumn scale
             * @property {Array.<number>|null} [scaledDelta] MetricColumn scaledDelta
             * @property {Array.<number>|null} [raw] MetricColumn raw
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a MetricColumn.
             * @memberof fieldline.v1
             * @interface IMetricColumn
             * @augments fieldline.v1.MetricColumn.$Properties
             * @deprecated Use fieldline.v1.MetricColumn.$Properties instead.
             */

            /**
             * Shape of a MetricColumn.
             * @typedef {fieldline.v1.MetricColumn.$Properties} fieldline.v1.MetricColumn.$Shape
             */

            /**
             * Constructs a new MetricColumn.
             * @memberof fieldline.v1
             * @classdesc Represents a MetricColumn.
             * @constructor
             * @param {fieldline.v1.MetricColumn.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const MetricColumn = function (properties) {
                this.scaledDelta = [];
                this.raw = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * MetricColumn name.
             * @member {string} name
             * @memberof fieldline.v1.MetricColumn
             * @instance
             */
            MetricColumn.prototype.name = "";

            /**
             * MetricColumn present.
             * @member {Uint8Array} present
             * @memberof fieldline.v1.MetricColumn
             * @instance
             */
            MetricColumn.prototype.present = $util.newBuffer([]);

            /**
             * MetricColumn scale.
             * @member {number} scale
             * @memberof fieldline.v1.MetricColumn
             * @instance
             */
            MetricColumn.prototype.scale = 0;

            /**
             * MetricColumn scaledDelta.
             * @member {Array.<number>} scaledDelta
             * @memberof fieldline.v1.MetricColumn
             * @instance
             */
            MetricColumn.prototype.scaledDelta = $util.emptyArray;

            /**
             * MetricColumn raw.
             * @member {Array.<number>} raw
             * @memberof fieldline.v1.MetricColumn
             * @instance
             */
            MetricColumn.prototype.raw = $util.emptyArray;

            /**
             * Creates a new MetricColumn instance using the specified properties.
             * @function create
             * @memberof fieldline.v1.MetricColumn
             * @static
             * @param {fieldline.v1.MetricColumn.$Properties=} [properties] Properties to set
             * @returns {fieldline.v1.MetricColumn} MetricColumn instance
             * @type {{
             *   (properties: fieldline.v1.MetricColumn.$Shape): fieldline.v1.MetricColumn & fieldline.v1.MetricColumn.$Shape;
             *   (properties?: fieldline.v1.MetricColumn.$Properties): fieldline.v1.MetricColumn;
             * }}
             */
            MetricColumn.create = function(properties) {
                return new MetricColumn(properties);
            };

            /**
             * Encodes the specified MetricColumn message. Does not implicitly {@link fieldline.v1.MetricColumn.verify|verify} messages.
             * @function encode
             * @memberof fieldline.v1.MetricColumn
             * @static
             * @param {fieldline.v1.MetricColumn.$Properties} message MetricColumn message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            MetricColumn.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
                if (message.present != null && $Object.hasOwnProperty.call(message, "present") && message.present.length)
                    writer.uint32(/* id 2, wireType 2 =*/18).bytes(message.present);
                if (message.scale != null && $Object.hasOwnProperty.call(message, "scale") && message.scale !== 0)
                    writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.scale);
                if (message.scaledDelta != null && message.scaledDelta.length)
                    writer.uint32(/* id 4, wireType 2 =*/34).sint64s(message.scaledDelta);
                if (message.raw != null && message.raw.length)
                    writer.uint32(/* id 5, wireType 2 =*/42).doubles(message.raw);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a MetricColumn message from the specified reader or buffer.
             * @function decode
             * @memberof fieldline.v1.MetricColumn
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {fieldline.v1.MetricColumn & fieldline.v1.MetricColumn.$Shape} MetricColumn
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            MetricColumn.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.fieldline.v1.MetricColumn();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.name = value;
                            else
                                delete message.name;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.bytes()).length)
                                message.present = value;
                            else
                                delete message.present;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.scale = value;
                            else
                                delete message.scale;
                            continue;
                        }
                    case 4: {
                            if (wireType === 2) {
                                if (!(message.scaledDelta && message.scaledDelta.length))
                                    message.scaledDelta = [];
                                reader.sint64s(message.scaledDelta);
                                continue;
                            }
                            if (wireType !== 0)
                                break;
                            if (!(message.scaledDelta && message.scaledDelta.length))
                                message.scaledDelta = [];
                            message.scaledDelta.push(reader.sint64());
                            continue;
                        }
                    case 5: {
                            if (wireType === 2) {
                                if (!(message.raw && message.raw.length))
                                    message.raw = [];
                                reader.doubles(message.raw);
                                continue;
                            }
                            if (wireType !== 1)
                                break;
                            if (!(message.raw && message.raw.length))
                                message.raw = [];
                            message.raw.push(reader.double());
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Creates a MetricColumn message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof fieldline.v1.MetricColumn
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {fieldline.v1.MetricColumn} MetricColumn
             */
            MetricColumn.fromObject = function (object, _depth) {
                if (object instanceof $root.fieldline.v1.MetricColumn)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".fieldline.v1.MetricColumn: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.fieldline.v1.MetricColumn();
                if (object.name != null)
                    if (typeof object.name !== "string" || object.name.length)
                        message.name = $String(object.name);
                if (object.present != null)
                    if (object.present.length)
                        if (typeof object.present === "string")
                            $util.base64.decode(object.present, message.present = $util.newBuffer($util.base64.length(object.present)), 0);
                        else if (object.present.length >= 0)
                            message.present = object.present;
                if (object.scale != null)
                    if ($Number(object.scale) !== 0)
                        message.scale = object.scale >>> 0;
                if (object.scaledDelta) {
                    if (!$Array.isArray(object.scaledDelta))
                        throw $TypeError(".fieldline.v1.MetricColumn.scaledDelta: array expected");
                    message.scaledDelta = $Array(object.scaledDelta.length);
                    for (let i = 0; i < object.scaledDelta.length; ++i)
                        if ($util.Long)
                            message.scaledDelta[i] = $util.Long.fromValue(object.scaledDelta[i], false);
                        else if (typeof object.scaledDelta[i] === "string")
                            message.scaledDelta[i] = $parseInt(object.scaledDelta[i], 10);
                        else if (typeof object.scaledDelta[i] === "number")
                            message.scaledDelta[i] = object.scaledDelta[i];
                        else if (typeof object.scaledDelta[i] === "object")
                            message.scaledDelta[i] = new $util.LongBits(object.scaledDelta[i].low >>> 0, object.scaledDelta[i].high >>> 0).toNumber();
                }
                if (object.raw) {
                    if (!$Array.isArray(object.raw))
                        throw $TypeError(".fieldline.v1.MetricColumn.raw: array expected");
                    message.raw = $Array(object.raw.length);
                    for (let i = 0; i < object.raw.length; ++i)
                        message.raw[i] = $Number(object.raw[i]);
                }
                return message;
            };

            /**
             * Creates a plain object from a MetricColumn message. Also converts values to other types if specified.
             * @function toObject
             * @memberof fieldline.v1.MetricColumn
             * @static
             * @param {fieldline.v1.MetricColumn} message MetricColumn
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            MetricColumn.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.arrays || options.defaults) {
                    object.scaledDelta = [];
                    object.raw = [];
                }
                if (options.defaults) {
                    object.name = "";
                    if (options.bytes === $String)
                        object.present = "";
                    else {
                        object.present = [];
                        if (options.bytes !== $Array)
                            object.present = $util.newBuffer(object.present);
                    }
                    object.scale = 0;
                }
                if (message.name != null && $Object.hasOwnProperty.call(message, "name"))
                    object.name = message.name;
                if (message.present != null && $Object.hasOwnProperty.call(message, "present"))
                    object.present = options.bytes === $String ? $util.base64.encode(message.present, 0, message.present.length) : options.bytes === $Array ? $Array.prototype.slice.call(message.present) : message.present;
                if (message.scale != null && $Object.hasOwnProperty.call(message, "scale"))
                    object.scale = message.scale;
                if (message.scaledDelta && message.scaledDelta.length) {
                    object.scaledDelta = $Array(message.scaledDelta.length);
                    for (let j = 0; j < message.scaledDelta.length; ++j)
                        if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                            object.scaledDelta[j] = typeof message.scaledDelta[j] === "number" ? $BigInt(message.scaledDelta[j]) : $util.Long.fromBits(message.scaledDelta[j].low >>> 0, message.scaledDelta[j].high >>> 0, false).toBigInt();
                        else if (typeof message.scaledDelta[j] === "number")
                            object.scaledDelta[j] = options.longs === $String ? $String(message.scaledDelta[j]) : message.scaledDelta[j];
                        else
                            object.scaledDelta[j] = options.longs === $String ? $util.Long.prototype.toString.call(message.scaledDelta[j]) : options.longs === $Number ? new $util.LongBits(message.scaledDelta[j].low >>> 0, message.scaledDelta[j].high >>> 0).toNumber() : message.scaledDelta[j];
                }
                if (message.raw && message.raw.length) {
                    object.raw = $Array(message.raw.length);
                    for (let j = 0; j < message.raw.length; ++j)
                        object.raw[j] = options.json && !$isFinite(message.raw[j]) ? $String(message.raw[j]) : message.raw[j];
                }
                return object;
            };

            /**
             * Converts this MetricColumn to JSON.
             * @function toJSON
             * @memberof fieldline.v1.MetricColumn
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            MetricColumn.prototype.toJSON = function() {
                return MetricColumn.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for MetricColumn
             * @function getTypeUrl
             * @memberof fieldline.v1.MetricColumn
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            MetricColumn.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/fieldline.v1.MetricColumn";
            };

            return MetricColumn;
        })();

        v1.AdapterStatus = (function() {

            /**
             * Properties of an AdapterStatus.
             * @typedef {Object} fieldline.v1.AdapterStatus.$Properties
             * @property {string|null} [name] AdapterStatus name
             * @property {string|null} [state] AdapterStatus state
             * @property {string|null} [detail] AdapterStatus detail
             * @property {Object.<string,number>|null} [counters] AdapterStatus counters
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an AdapterStatus.
             * @memberof fieldline.v1
             * @interface IAdapterStatus
             * @augments fieldline.v1.AdapterStatus.$Properties
             * @deprecated Use fieldline.v1.AdapterStatus.$Properties instead.
             */

            /**
             * Shape of an AdapterStatus.
             * @typedef {fieldline.v1.AdapterStatus.$Properties} fieldline.v1.AdapterStatus.$Shape
             */

            /**
             * Constructs a new AdapterStatus.
             * @memberof fieldline.v1
             * @classdesc Represents an AdapterStatus.
             * @constructor
             * @param {fieldline.v1.AdapterStatus.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const AdapterStatus = function (properties) {
                this.counters = {};
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * AdapterStatus name.
             * @member {string} name
             * @memberof fieldline.v1.AdapterStatus
             * @instance
             */
            AdapterStatus.prototype.name = "";

            /**
             * AdapterStatus state.
             * @member {string} state
             * @memberof fieldline.v1.AdapterStatus
             * @instance
             */
            AdapterStatus.prototype.state = "";

            /**
             * AdapterStatus detail.
             * @member {string} detail
             * @memberof fieldline.v1.AdapterStatus
             * @instance
             */
            AdapterStatus.prototype.detail = "";

            /**
             * AdapterStatus counters.
             * @member {Object.<string,number>} counters
             * @memberof fieldline.v1.AdapterStatus
             * @instance
             */
            AdapterStatus.prototype.counters = $util.emptyObject;

            /**
             * Creates a new AdapterStatus instance using the specified properties.
             * @function create
             * @memberof fieldline.v1.AdapterStatus
             * @static
             * @param {fieldline.v1.AdapterStatus.$Properties=} [properties] Properties to set
             * @returns {fieldline.v1.AdapterStatus} AdapterStatus instance
             * @type {{
             *   (properties: fieldline.v1.AdapterStatus.$Shape): fieldline.v1.AdapterStatus & fieldline.v1.AdapterStatus.$Shape;
             *   (properties?: fieldline.v1.AdapterStatus.$Properties): fieldline.v1.AdapterStatus;
             * }}
             */
            AdapterStatus.create = function(properties) {
                return new AdapterStatus(properties);
            };

            /**
             * Encodes the specified AdapterStatus message. Does not implicitly {@link fieldline.v1.AdapterStatus.verify|verify} messages.
             * @function encode
             * @memberof fieldline.v1.AdapterStatus
             * @static
             * @param {fieldline.v1.AdapterStatus.$Properties} message AdapterStatus message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            AdapterStatus.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
                if (message.state != null && $Object.hasOwnProperty.call(message, "state") && message.state !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.state);
                if (message.detail != null && $Object.hasOwnProperty.call(message, "detail") && message.detail !== "")
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.detail);
                if (message.counters != null && $Object.hasOwnProperty.call(message, "counters"))
                    for (let keys = $Object.keys(message.counters), i = 0; i < keys.length; ++i)
                        writer.uint32(/* id 4, wireType 2 =*/34).fork().uint32(/* id 1, wireType 2 =*/10).string(keys[i]).uint32(/* id 2, wireType 0 =*/16).uint64(message.counters[keys[i]]).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes an AdapterStatus message from the specified reader or buffer.
             * @function decode
             * @memberof fieldline.v1.AdapterStatus
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {fieldline.v1.AdapterStatus & fieldline.v1.AdapterStatus.$Shape} AdapterStatus
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            AdapterStatus.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, key, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.fieldline.v1.AdapterStatus();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.name = value;
                            else
                                delete message.name;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.state = value;
                            else
                                delete message.state;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.detail = value;
                            else
                                delete message.detail;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            if (message.counters === $util.emptyObject)
                                message.counters = {};
                            let end2 = reader.size() + reader.pos;
                            if (end2 > reader.len)
                                throw $RangeError("index out of range");
                            reader.len = end2;
                            key = "";
                            value = $util.Long ? $util.Long.fromNumber(0, true) : 0;
                            while (reader.pos < end2) {
                                let tag2 = reader.tag();
                                wireType = tag2 & 7;
                                switch (tag2 >>>= 3) {
                                case 1:
                                    if (wireType !== 2)
                                        break;
                                    key = reader.stringVerify();
                                    continue;
                                case 2:
                                    if (wireType !== 0)
                                        break;
                                    value = reader.uint64();
                                    continue;
                                }
                                reader.skipType(wireType, _depth, tag2);
                            }
                            if (reader.pos !== end2)
                                throw $RangeError("index out of range");
                            reader.len = end;
                            if (key === "__proto__")
                                $util.makeProp(message.counters, key);
                            message.counters[key] = value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Creates an AdapterStatus message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof fieldline.v1.AdapterStatus
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {fieldline.v1.AdapterStatus} AdapterStatus
             */
            AdapterStatus.fromObject = function (object, _depth) {
                if (object instanceof $root.fieldline.v1.AdapterStatus)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".fieldline.v1.AdapterStatus: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.fieldline.v1.AdapterStatus();
                if (object.name != null)
                    if (typeof object.name !== "string" || object.name.length)
                        message.name = $String(object.name);
                if (object.state != null)
                    if (typeof object.state !== "string" || object.state.length)
                        message.state = $String(object.state);
                if (object.detail != null)
                    if (typeof object.detail !== "string" || object.detail.length)
                        message.detail = $String(object.detail);
                if (object.counters) {
                    if (!$util.isObject(object.counters))
                        throw $TypeError(".fieldline.v1.AdapterStatus.counters: object expected");
                    message.counters = {};
                    for (let keys = $Object.keys(object.counters), i = 0; i < keys.length; ++i) {
                        if (keys[i] === "__proto__")
                            $util.makeProp(message.counters, keys[i]);
                        if ($util.Long)
                            message.counters[keys[i]] = $util.Long.fromValue(object.counters[keys[i]], true);
                        else if (typeof object.counters[keys[i]] === "string")
                            message.counters[keys[i]] = $parseInt(object.counters[keys[i]], 10);
                        else if (typeof object.counters[keys[i]] === "number")
                            message.counters[keys[i]] = object.counters[keys[i]];
                        else if (typeof object.counters[keys[i]] === "object")
                            message.counters[keys[i]] = new $util.LongBits(object.counters[keys[i]].low >>> 0, object.counters[keys[i]].high >>> 0).toNumber(true);
                    }
                }
                return message;
            };

            /**
             * Creates a plain object from an AdapterStatus message. Also converts values to other types if specified.
             * @function toObject
             * @memberof fieldline.v1.AdapterStatus
             * @static
             * @param {fieldline.v1.AdapterStatus} message AdapterStatus
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            AdapterStatus.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.objects || options.defaults)
                    object.counters = {};
                if (options.defaults) {
                    object.name = "";
                    object.state = "";
                    object.detail = "";
                }
                if (message.name != null && $Object.hasOwnProperty.call(message, "name"))
                    object.name = message.name;
                if (message.state != null && $Object.hasOwnProperty.call(message, "state"))
                    object.state = message.state;
                if (message.detail != null && $Object.hasOwnProperty.call(message, "detail"))
                    object.detail = message.detail;
                let keys2;
                if (message.counters && (keys2 = $Object.keys(message.counters)).length) {
                    object.counters = {};
                    for (let j = 0; j < keys2.length; ++j) {
                        if (keys2[j] === "__proto__")
                            $util.makeProp(object.counters, keys2[j]);
                        if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                            object.counters[keys2[j]] = typeof message.counters[keys2[j]] === "number" ? $BigInt(message.counters[keys2[j]]) : $util.Long.fromBits(message.counters[keys2[j]].low >>> 0, message.counters[keys2[j]].high >>> 0, true).toBigInt();
                        else if (typeof message.counters[keys2[j]] === "number")
                            object.counters[keys2[j]] = options.longs === $String ? $String(message.counters[keys2[j]]) : message.counters[keys2[j]];
                        else
                            object.counters[keys2[j]] = options.longs === $String ? $util.Long.prototype.toString.call(message.counters[keys2[j]]) : options.longs === $Number ? new $util.LongBits(message.counters[keys2[j]].low >>> 0, message.counters[keys2[j]].high >>> 0).toNumber(true) : message.counters[keys2[j]];
                    }
                }
                return object;
            };

            /**
             * Converts this AdapterStatus to JSON.
             * @function toJSON
             * @memberof fieldline.v1.AdapterStatus
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            AdapterStatus.prototype.toJSON = function() {
                return AdapterStatus.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for AdapterStatus
             * @function getTypeUrl
             * @memberof fieldline.v1.AdapterStatus
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            AdapterStatus.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/fieldline.v1.AdapterStatus";
            };

            return AdapterStatus;
        })();

        v1.ReasonCounts = (function() {

            /**
             * Properties of a ReasonCounts.
             * @typedef {Object} fieldline.v1.ReasonCounts.$Properties
             * @property {Object.<string,number>|null} [byReason] ReasonCounts byReason
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a ReasonCounts.
             * @memberof fieldline.v1
             * @interface IReasonCounts
             * @augments fieldline.v1.ReasonCounts.$Properties
             * @deprecated Use fieldline.v1.ReasonCounts.$Properties instead.
             */

            /**
             * Shape of a ReasonCounts.
             * @typedef {fieldline.v1.ReasonCounts.$Properties} fieldline.v1.ReasonCounts.$Shape
             */

            /**
             * Constructs a new ReasonCounts.
             * @memberof fieldline.v1
             * @classdesc Represents a ReasonCounts.
             * @constructor
             * @param {fieldline.v1.ReasonCounts.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const ReasonCounts = function (properties) {
                this.byReason = {};
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * ReasonCounts byReason.
             * @member {Object.<string,number>} byReason
             * @memberof fieldline.v1.ReasonCounts
             * @instance
             */
            ReasonCounts.prototype.byReason = $util.emptyObject;

            /**
             * Creates a new ReasonCounts instance using the specified properties.
             * @function create
             * @memberof fieldline.v1.ReasonCounts
             * @static
             * @param {fieldline.v1.ReasonCounts.$Properties=} [properties] Properties to set
             * @returns {fieldline.v1.ReasonCounts} ReasonCounts instance
             * @type {{
             *   (properties: fieldline.v1.ReasonCounts.$Shape): fieldline.v1.ReasonCounts & fieldline.v1.ReasonCounts.$Shape;
             *   (properties?: fieldline.v1.ReasonCounts.$Properties): fieldline.v1.ReasonCounts;
             * }}
             */
            ReasonCounts.create = function(properties) {
                return new ReasonCounts(properties);
            };

            /**
             * Encodes the specified ReasonCounts message. Does not implicitly {@link fieldline.v1.ReasonCounts.verify|verify} messages.
             * @function encode
             * @memberof fieldline.v1.ReasonCounts
             * @static
             * @param {fieldline.v1.ReasonCounts.$Properties} message ReasonCounts message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            ReasonCounts.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.byReason != null && $Object.hasOwnProperty.call(message, "byReason"))
                    for (let keys = $Object.keys(message.byReason), i = 0; i < keys.length; ++i)
                        writer.uint32(/* id 1, wireType 2 =*/10).fork().uint32(/* id 1, wireType 2 =*/10).string(keys[i]).uint32(/* id 2, wireType 0 =*/16).uint64(message.byReason[keys[i]]).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a ReasonCounts message from the specified reader or buffer.
             * @function decode
             * @memberof fieldline.v1.ReasonCounts
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {fieldline.v1.ReasonCounts & fieldline.v1.ReasonCounts.$Shape} ReasonCounts
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            ReasonCounts.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, key, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.fieldline.v1.ReasonCounts();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if (message.byReason === $util.emptyObject)
                                message.byReason = {};
                            let end2 = reader.size() + reader.pos;
                            if (end2 > reader.len)
                                throw $RangeError("index out of range");
                            reader.len = end2;
                            key = "";
                            value = $util.Long ? $util.Long.fromNumber(0, true) : 0;
                            while (reader.pos < end2) {
                                let tag2 = reader.tag();
                                wireType = tag2 & 7;
                                switch (tag2 >>>= 3) {
                                case 1:
                                    if (wireType !== 2)
                                        break;
                                    key = reader.stringVerify();
                                    continue;
                                case 2:
                                    if (wireType !== 0)
                                        break;
                                    value = reader.uint64();
                                    continue;
                                }
                                reader.skipType(wireType, _depth, tag2);
                            }
                            if (reader.pos !== end2)
                                throw $RangeError("index out of range");
                            reader.len = end;
                            if (key === "__proto__")
                                $util.makeProp(message.byReason, key);
                            message.byReason[key] = value;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Creates a ReasonCounts message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof fieldline.v1.ReasonCounts
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {fieldline.v1.ReasonCounts} ReasonCounts
             */
            ReasonCounts.fromObject = function (object, _depth) {
                if (object instanceof $root.fieldline.v1.ReasonCounts)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".fieldline.v1.ReasonCounts: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.fieldline.v1.ReasonCounts();
                if (object.byReason) {
                    if (!$util.isObject(object.byReason))
                        throw $TypeError(".fieldline.v1.ReasonCounts.byReason: object expected");
                    message.byReason = {};
                    for (let keys = $Object.keys(object.byReason), i = 0; i < keys.length; ++i) {
                        if (keys[i] === "__proto__")
                            $util.makeProp(message.byReason, keys[i]);
                        if ($util.Long)
                            message.byReason[keys[i]] = $util.Long.fromValue(object.byReason[keys[i]], true);
                        else if (typeof object.byReason[keys[i]] === "string")
                            message.byReason[keys[i]] = $parseInt(object.byReason[keys[i]], 10);
                        else if (typeof object.byReason[keys[i]] === "number")
                            message.byReason[keys[i]] = object.byReason[keys[i]];
                        else if (typeof object.byReason[keys[i]] === "object")
                            message.byReason[keys[i]] = new $util.LongBits(object.byReason[keys[i]].low >>> 0, object.byReason[keys[i]].high >>> 0).toNumber(true);
                    }
                }
                return message;
            };

            /**
             * Creates a plain object from a ReasonCounts message. Also converts values to other types if specified.
             * @function toObject
             * @memberof fieldline.v1.ReasonCounts
             * @static
             * @param {fieldline.v1.ReasonCounts} message ReasonCounts
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            ReasonCounts.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.objects || options.defaults)
                    object.byReason = {};
                let keys2;
                if (message.byReason && (keys2 = $Object.keys(message.byReason)).length) {
                    object.byReason = {};
                    for (let j = 0; j < keys2.length; ++j) {
                        if (keys2[j] === "__proto__")
                            $util.makeProp(object.byReason, keys2[j]);
                        if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                            object.byReason[keys2[j]] = typeof message.byReason[keys2[j]] === "number" ? $BigInt(message.byReason[keys2[j]]) : $util.Long.fromBits(message.byReason[keys2[j]].low >>> 0, message.byReason[keys2[j]].high >>> 0, true).toBigInt();
                        else if (typeof message.byReason[keys2[j]] === "number")
                            object.byReason[keys2[j]] = options.longs === $String ? $String(message.byReason[keys2[j]]) : message.byReason[keys2[j]];
                        else
                            object.byReason[keys2[j]] = options.longs === $String ? $util.Long.prototype.toString.call(message.byReason[keys2[j]]) : options.longs === $Number ? new $util.LongBits(message.byReason[keys2[j]].low >>> 0, message.byReason[keys2[j]].high >>> 0).toNumber(true) : message.byReason[keys2[j]];
                    }
                }
                return object;
            };

            /**
             * Converts this ReasonCounts to JSON.
             * @function toJSON
             * @memberof fieldline.v1.ReasonCounts
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            ReasonCounts.prototype.toJSON = function() {
                return ReasonCounts.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for ReasonCounts
             * @function getTypeUrl
             * @memberof fieldline.v1.ReasonCounts
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            ReasonCounts.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/fieldline.v1.ReasonCounts";
            };

            return ReasonCounts;
        })();

        v1.LossCounters = (function() {

            /**
             * Properties of a LossCounters.
             * @typedef {Object} fieldline.v1.LossCounters.$Properties
             * @property {number|null} [rateLimited] LossCounters rateLimited
             * @property {number|null} [quarantined] LossCounters quarantined
             * @property {number|null} [evicted] LossCounters evicted
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a LossCounters.
             * @memberof fieldline.v1
             * @interface ILossCounters
             * @augments fieldline.v1.LossCounters.$Properties
             * @deprecated Use fieldline.v1.LossCounters.$Properties instead.
             */

            /**
             * Shape of a LossCounters.
             * @typedef {fieldline.v1.LossCounters.$Properties} fieldline.v1.LossCounters.$Shape
             */

            /**
             * Constructs a new LossCounters.
             * @memberof fieldline.v1
             * @classdesc Represents a LossCounters.
             * @constructor
             * @param {fieldline.v1.LossCounters.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const LossCounters = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * LossCounters rateLimited.
             * @member {number} rateLimited
             * @memberof fieldline.v1.LossCounters
             * @instance
             */
            LossCounters.prototype.rateLimited = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * LossCounters quarantined.
             * @member {number} quarantined
             * @memberof fieldline.v1.LossCounters
             * @instance
             */
            LossCounters.prototype.quarantined = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * LossCounters evicted.
             * @member {number} evicted
             * @memberof fieldline.v1.LossCounters
             * @instance
             */
            LossCounters.prototype.evicted = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * Creates a new LossCounters instance using the specified properties.
             * @function create
             * @memberof fieldline.v1.LossCounters
             * @static
             * @param {fieldline.v1.LossCounters.$Properties=} [properties] Properties to set
             * @returns {fieldline.v1.LossCounters} LossCounters instance
             * @type {{
             *   (properties: fieldline.v1.LossCounters.$Shape): fieldline.v1.LossCounters & fieldline.v1.LossCounters.$Shape;
             *   (properties?: fieldline.v1.LossCounters.$Properties): fieldline.v1.LossCounters;
             * }}
             */
            LossCounters.create = function(properties) {
                return new LossCounters(properties);
            };

            /**
             * Encodes the specified LossCounters message. Does not implicitly {@link fieldline.v1.LossCounters.verify|verify} messages.
             * @function encode
             * @memberof fieldline.v1.LossCounters
             * @static
             * @param {fieldline.v1.LossCounters.$Properties} message LossCounters message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            LossCounters.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.rateLimited != null && $Object.hasOwnProperty.call(message, "rateLimited") && (typeof message.rateLimited === "object" ? message.rateLimited.low || message.rateLimited.high : message.rateLimited !== 0))
                    writer.uint32(/* id 1, wireType 0 =*/8).uint64(message.rateLimited);
                if (message.quarantined != null && $Object.hasOwnProperty.call(message, "quarantined") && (typeof message.quarantined === "object" ? message.quarantined.low || message.quarantined.high : message.quarantined !== 0))
                    writer.uint32(/* id 2, wireType 0 =*/16).uint64(message.quarantined);
                if (message.evicted != null && $Object.hasOwnProperty.call(message, "evicted") && (typeof message.evicted === "object" ? message.evicted.low || message.evicted.high : message.evicted !== 0))
                    writer.uint32(/* id 3, wireType 0 =*/24).uint64(message.evicted);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a LossCounters message from the specified reader or buffer.
             * @function decode
             * @memberof fieldline.v1.LossCounters
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {fieldline.v1.LossCounters & fieldline.v1.LossCounters.$Shape} LossCounters
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            LossCounters.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.fieldline.v1.LossCounters();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.rateLimited = value;
                            else
                                delete message.rateLimited;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.quarantined = value;
                            else
                                delete message.quarantined;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.evicted = value;
                            else
                                delete message.evicted;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Creates a LossCounters message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof fieldline.v1.LossCounters
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {fieldline.v1.LossCounters} LossCounters
             */
            LossCounters.fromObject = function (object, _depth) {
                if (object instanceof $root.fieldline.v1.LossCounters)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".fieldline.v1.LossCounters: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.fieldline.v1.LossCounters();
                if (object.rateLimited != null)
                    if (typeof object.rateLimited === "object" ? object.rateLimited.low || object.rateLimited.high : $Number(object.rateLimited) !== 0)
                        if ($util.Long)
                            message.rateLimited = $util.Long.fromValue(object.rateLimited, true);
                        else if (typeof object.rateLimited === "string")
                            message.rateLimited = $parseInt(object.rateLimited, 10);
                        else if (typeof object.rateLimited === "number")
                            message.rateLimited = object.rateLimited;
                        else if (typeof object.rateLimited === "object")
                            message.rateLimited = new $util.LongBits(object.rateLimited.low >>> 0, object.rateLimited.high >>> 0).toNumber(true);
                if (object.quarantined != null)
                    if (typeof object.quarantined === "object" ? object.quarantined.low || object.quarantined.high : $Number(object.quarantined) !== 0)
                        if ($util.Long)
                            message.quarantined = $util.Long.fromValue(object.quarantined, true);
                        else if (typeof object.quarantined === "string")
                            message.quarantined = $parseInt(object.quarantined, 10);
                        else if (typeof object.quarantined === "number")
                            message.quarantined = object.quarantined;
                        else if (typeof object.quarantined === "object")
                            message.quarantined = new $util.LongBits(object.quarantined.low >>> 0, object.quarantined.high >>> 0).toNumber(true);
                if (object.evicted != null)
                    if (typeof object.evicted === "object" ? object.evicted.low || object.evicted.high : $Number(object.evicted) !== 0)
                        if ($util.Long)
                            message.evicted = $util.Long.fromValue(object.evicted, true);
                        else if (typeof object.evicted === "string")
                            message.evicted = $parseInt(object.evicted, 10);
                        else if (typeof object.evicted === "number")
                            message.evicted = object.evicted;
                        else if (typeof object.evicted === "object")
                            message.evicted = new $util.LongBits(object.evicted.low >>> 0, object.evicted.high >>> 0).toNumber(true);
                return message;
            };

            /**
             * Creates a plain object from a LossCounters message. Also converts values to other types if specified.
             * @function toObject
             * @memberof fieldline.v1.LossCounters
             * @static
             * @param {fieldline.v1.LossCounters} message LossCounters
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            LossCounters.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.defaults) {
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.rateLimited = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.rateLimited = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.quarantined = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.quarantined = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.evicted = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.evicted = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                }
                if (message.rateLimited != null && $Object.hasOwnProperty.call(message, "rateLimited"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.rateLimited = typeof message.rateLimited === "number" ? $BigInt(message.rateLimited) : $util.Long.fromBits(message.rateLimited.low >>> 0, message.rateLimited.high >>> 0, true).toBigInt();
                    else if (typeof message.rateLimited === "number")
                        object.rateLimited = options.longs === $String ? $String(message.rateLimited) : message.rateLimited;
                    else
                        object.rateLimited = options.longs === $String ? $util.Long.prototype.toString.call(message.rateLimited) : options.longs === $Number ? new $util.LongBits(message.rateLimited.low >>> 0, message.rateLimited.high >>> 0).toNumber(true) : message.rateLimited;
                if (message.quarantined != null && $Object.hasOwnProperty.call(message, "quarantined"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.quarantined = typeof message.quarantined === "number" ? $BigInt(message.quarantined) : $util.Long.fromBits(message.quarantined.low >>> 0, message.quarantined.high >>> 0, true).toBigInt();
                    else if (typeof message.quarantined === "number")
                        object.quarantined = options.longs === $String ? $String(message.quarantined) : message.quarantined;
                    else
                        object.quarantined = options.longs === $String ? $util.Long.prototype.toString.call(message.quarantined) : options.longs === $Number ? new $util.LongBits(message.quarantined.low >>> 0, message.quarantined.high >>> 0).toNumber(true) : message.quarantined;
                if (message.evicted != null && $Object.hasOwnProperty.call(message, "evicted"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.evicted = typeof message.evicted === "number" ? $BigInt(message.evicted) : $util.Long.fromBits(message.evicted.low >>> 0, message.evicted.high >>> 0, true).toBigInt();
                    else if (typeof message.evicted === "number")
                        object.evicted = options.longs === $String ? $String(message.evicted) : message.evicted;
                    else
                        object.evicted = options.longs === $String ? $util.Long.prototype.toString.call(message.evicted) : options.longs === $Number ? new $util.LongBits(message.evicted.low >>> 0, message.evicted.high >>> 0).toNumber(true) : message.evicted;
                return object;
            };

            /**
             * Converts this LossCounters to JSON.
             * @function toJSON
             * @memberof fieldline.v1.LossCounters
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            LossCounters.prototype.toJSON = function() {
                return LossCounters.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for LossCounters
             * @function getTypeUrl
             * @memberof fieldline.v1.LossCounters
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            LossCounters.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/fieldline.v1.LossCounters";
            };

            return LossCounters;
        })();

        v1.Heartbeat = (function() {

            /**
             * Properties of a Heartbeat.
             * @typedef {Object} fieldline.v1.Heartbeat.$Properties
             * @property {string|null} [gatewayId] Heartbeat gatewayId
             * @property {number|null} [tsMs] Heartbeat tsMs
             * @property {string|null} [firmwareVersion] Heartbeat firmwareVersion
             * @property {number|null} [uptimeS] Heartbeat uptimeS
             * @property {number|null} [cpuPercent] Heartbeat cpuPercent
             * @property {number|null} [memoryUsedBytes] Heartbeat memoryUsedBytes
             * @property {number|null} [memoryTotalBytes] Heartbeat memoryTotalBytes
             * @property {number|null} [diskFreeBytes] Heartbeat diskFreeBytes
             * @property {number|null} [diskTotalBytes] Heartbeat diskTotalBytes
             * @property {number|null} [temperatureC] Heartbeat temperatureC
             * @property {number|null} [outboxDepth] Heartbeat outboxDepth
             * @property {number|null} [outboxOldestAgeMs] Heartbeat outboxOldestAgeMs
             * @property {Array.<fieldline.v1.AdapterStatus.$Properties>|null} [adapters] Heartbeat adapters
             * @property {fieldline.v1.LossCounters.$Properties|null} [loss] Heartbeat loss
             * @property {Object.<string,fieldline.v1.LossCounters.$Properties>|null} [deviceLoss] Heartbeat deviceLoss
             * @property {Object.<string,fieldline.v1.ReasonCounts.$Properties>|null} [deviceRefusals] Heartbeat deviceRefusals
             * @property {Object.<string,number>|null} [refusals] Heartbeat refusals
             * @property {number|null} [drainSentPerSecond] Heartbeat drainSentPerSecond
             * @property {number|null} [drainInPerSecond] Heartbeat drainInPerSecond
             * @property {number|null} [drainEtaS] Heartbeat drainEtaS
             * @property {number|null} [outboxBytes] Heartbeat outboxBytes
             * @property {string|null} [outboxFull] Heartbeat outboxFull
             * @property {string|null} [outboxRecovered] Heartbeat outboxRecovered
             * @property {number|null} [intervalMs] Heartbeat intervalMs
             * @property {boolean|null} [delayed] Heartbeat delayed
             * @property {number|null} [configVersion] Heartbeat configVersion
             * @property {string|null} [configError] Heartbeat configError
             * @property {string|null} [configConflict] Heartbeat configConflict
             * @property {string|null} [configSource] Heartbeat configSource
             * @property {number|null} [configSeenVersion] Heartbeat configSeenVersion
             * @property {boolean|null} [clockSynced] Heartbeat clockSynced
             * @property {number|null} [clockOffsetMs] Heartbeat clockOffsetMs
             * @property {string|null} [clockSource] Heartbeat clockSource
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Heartbeat.
             * @memberof fieldline.v1
             * @interface IHeartbeat
             * @augments fieldline.v1.Heartbeat.$Properties
             * @deprecated Use fieldline.v1.Heartbeat.$Properties instead.
             */

            /**
             * Shape of a Heartbeat.
             * @typedef {fieldline.v1.Heartbeat.$Properties} fieldline.v1.Heartbeat.$Shape
             */

            /**
             * Constructs a new Heartbeat.
             * @memberof fieldline.v1
             * @classdesc Represents a Heartbeat.
             * @constructor
             * @param {fieldline.v1.Heartbeat.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Heartbeat = function (properties) {
                this.adapters = [];
                this.deviceLoss = {};
                this.deviceRefusals = {};
                this.refusals = {};
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Heartbeat gatewayId.
             * @member {string} gatewayId
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.gatewayId = "";

            /**
             * Heartbeat tsMs.
             * @member {number} tsMs
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.tsMs = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * Heartbeat firmwareVersion.
             * @member {string} firmwareVersion
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.firmwareVersion = "";

            /**
             * Heartbeat uptimeS.
             * @member {number} uptimeS
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.uptimeS = 0;

            /**
             * Heartbeat cpuPercent.
             * @member {number} cpuPercent
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.cpuPercent = 0;

            /**
             * Heartbeat memoryUsedBytes.
             * @member {number} memoryUsedBytes
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.memoryUsedBytes = 0;

            /**
             * Heartbeat memoryTotalBytes.
             * @member {number} memoryTotalBytes
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.memoryTotalBytes = 0;

            /**
             * Heartbeat diskFreeBytes.
             * @member {number} diskFreeBytes
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.diskFreeBytes = 0;

            /**
             * Heartbeat diskTotalBytes.
             * @member {number} diskTotalBytes
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.diskTotalBytes = 0;

            /**
             * Heartbeat temperatureC.
             * @member {number|null|undefined} temperatureC
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.temperatureC = null;

            /**
             * Heartbeat outboxDepth.
             * @member {number} outboxDepth
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.outboxDepth = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * Heartbeat outboxOldestAgeMs.
             * @member {number} outboxOldestAgeMs
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.outboxOldestAgeMs = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * Heartbeat adapters.
             * @member {Array.<fieldline.v1.AdapterStatus.$Properties>} adapters
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.adapters = $util.emptyArray;

            /**
             * Heartbeat loss.
             * @member {fieldline.v1.LossCounters.$Properties|null|undefined} loss
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.loss = null;

            /**
             * Heartbeat deviceLoss.
             * @member {Object.<string,fieldline.v1.LossCounters.$Properties>} deviceLoss
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.deviceLoss = $util.emptyObject;

            /**
             * Heartbeat deviceRefusals.
             * @member {Object.<string,fieldline.v1.ReasonCounts.$Properties>} deviceRefusals
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.deviceRefusals = $util.emptyObject;

            /**
             * Heartbeat refusals.
             * @member {Object.<string,number>} refusals
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.refusals = $util.emptyObject;

            /**
             * Heartbeat drainSentPerSecond.
             * @member {number} drainSentPerSecond
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.drainSentPerSecond = 0;

            /**
             * Heartbeat drainInPerSecond.
             * @member {number} drainInPerSecond
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.drainInPerSecond = 0;

            /**
             * Heartbeat drainEtaS.
             * @member {number|null|undefined} drainEtaS
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.drainEtaS = null;

            /**
             * Heartbeat outboxBytes.
             * @member {number} outboxBytes
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.outboxBytes = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * Heartbeat outboxFull.
             * @member {string} outboxFull
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.outboxFull = "";

            /**
             * Heartbeat outboxRecovered.
             * @member {string} outboxRecovered
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.outboxRecovered = "";

            /**
             * Heartbeat intervalMs.
             * @member {number} intervalMs
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.intervalMs = 0;

            /**
             * Heartbeat delayed.
             * @member {boolean} delayed
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.delayed = false;

            /**
             * Heartbeat configVersion.
             * @member {number} configVersion
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.configVersion = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * Heartbeat configError.
             * @member {string} configError
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.configError = "";

            /**
             * Heartbeat configConflict.
             * @member {string} configConflict
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.configConflict = "";

            /**
             * Heartbeat configSource.
             * @member {string} configSource
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.configSource = "";

            /**
             * Heartbeat configSeenVersion.
             * @member {number} configSeenVersion
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.configSeenVersion = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * Heartbeat clockSynced.
             * @member {boolean} clockSynced
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.clockSynced = false;

            /**
             * Heartbeat clockOffsetMs.
             * @member {number} clockOffsetMs
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.clockOffsetMs = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * Heartbeat clockSource.
             * @member {string} clockSource
             * @memberof fieldline.v1.Heartbeat
             * @instance
             */
            Heartbeat.prototype.clockSource = "";

            // OneOf field names bound to virtual getters and setters
            let $oneOfFields;

            // Virtual OneOf for proto3 optional field
            $Object.defineProperty(Heartbeat.prototype, "_temperatureC", {
                get: $util.oneOfGetter($oneOfFields = ["temperatureC"]),
                set: $util.oneOfSetter($oneOfFields)
            });

            // Virtual OneOf for proto3 optional field
            $Object.defineProperty(Heartbeat.prototype, "_drainEtaS", {
                get: $util.oneOfGetter($oneOfFields = ["drainEtaS"]),
                set: $util.oneOfSetter($oneOfFields)
            });

            /**
             * Creates a new Heartbeat instance using the specified properties.
             * @function create
             * @memberof fieldline.v1.Heartbeat
             * @static
             * @param {fieldline.v1.Heartbeat.$Properties=} [properties] Properties to set
             * @returns {fieldline.v1.Heartbeat} Heartbeat instance
             * @type {{
             *   (properties: fieldline.v1.Heartbeat.$Shape): fieldline.v1.Heartbeat & fieldline.v1.Heartbeat.$Shape;
             *   (properties?: fieldline.v1.Heartbeat.$Properties): fieldline.v1.Heartbeat;
             * }}
             */
            Heartbeat.create = function(properties) {
                return new Heartbeat(properties);
            };

            /**
             * Encodes the specified Heartbeat message. Does not implicitly {@link fieldline.v1.Heartbeat.verify|verify} messages.
             * @function encode
             * @memberof fieldline.v1.Heartbeat
             * @static
             * @param {fieldline.v1.Heartbeat.$Properties} message Heartbeat message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Heartbeat.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.gatewayId != null && $Object.hasOwnProperty.call(message, "gatewayId") && message.gatewayId !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.gatewayId);
                if (message.tsMs != null && $Object.hasOwnProperty.call(message, "tsMs") && (typeof message.tsMs === "object" ? message.tsMs.low || message.tsMs.high : message.tsMs !== 0))
                    writer.uint32(/* id 2, wireType 0 =*/16).int64(message.tsMs);
                if (message.firmwareVersion != null && $Object.hasOwnProperty.call(message, "firmwareVersion") && message.firmwareVersion !== "")
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.firmwareVersion);
                if (message.uptimeS != null && $Object.hasOwnProperty.call(message, "uptimeS") && !$Object.is(message.uptimeS, 0))
                    writer.uint32(/* id 4, wireType 1 =*/33).double(message.uptimeS);
                if (message.cpuPercent != null && $Object.hasOwnProperty.call(message, "cpuPercent") && !$Object.is(message.cpuPercent, 0))
                    writer.uint32(/* id 5, wireType 1 =*/41).double(message.cpuPercent);
                if (message.memoryUsedBytes != null && $Object.hasOwnProperty.call(message, "memoryUsedBytes") && !$Object.is(message.memoryUsedBytes, 0))
                    writer.uint32(/* id 6, wireType 1 =*/49).double(message.memoryUsedBytes);
                if (message.memoryTotalBytes != null && $Object.hasOwnProperty.call(message, "memoryTotalBytes") && !$Object.is(message.memoryTotalBytes, 0))
                    writer.uint32(/* id 7, wireType 1 =*/57).double(message.memoryTotalBytes);
                if (message.diskFreeBytes != null && $Object.hasOwnProperty.call(message, "diskFreeBytes") && !$Object.is(message.diskFreeBytes, 0))
                    writer.uint32(/* id 8, wireType 1 =*/65).double(message.diskFreeBytes);
                if (message.diskTotalBytes != null && $Object.hasOwnProperty.call(message, "diskTotalBytes") && !$Object.is(message.diskTotalBytes, 0))
                    writer.uint32(/* id 9, wireType 1 =*/73).double(message.diskTotalBytes);
                if (message.temperatureC != null && $Object.hasOwnProperty.call(message, "temperatureC"))
                    writer.uint32(/* id 10, wireType 1 =*/81).double(message.temperatureC);
                if (message.outboxDepth != null && $Object.hasOwnProperty.call(message, "outboxDepth") && (typeof message.outboxDepth === "object" ? message.outboxDepth.low || message.outboxDepth.high : message.outboxDepth !== 0))
                    writer.uint32(/* id 11, wireType 0 =*/88).uint64(message.outboxDepth);
                if (message.outboxOldestAgeMs != null && $Object.hasOwnProperty.call(message, "outboxOldestAgeMs") && (typeof message.outboxOldestAgeMs === "object" ? message.outboxOldestAgeMs.low || message.outboxOldestAgeMs.high : message.outboxOldestAgeMs !== 0))
                    writer.uint32(/* id 12, wireType 0 =*/96).int64(message.outboxOldestAgeMs);
                if (message.adapters != null && message.adapters.length)
                    for (let i = 0; i < message.adapters.length; ++i)
                        $root.fieldline.v1.AdapterStatus.encode(message.adapters[i], writer.uint32(/* id 13, wireType 2 =*/106).fork(), _depth + 1).ldelim();
                if (message.loss != null && $Object.hasOwnProperty.call(message, "loss"))
                    $root.fieldline.v1.LossCounters.encode(message.loss, writer.uint32(/* id 14, wireType 2 =*/114).fork(), _depth + 1).ldelim();
                if (message.deviceLoss != null && $Object.hasOwnProperty.call(message, "deviceLoss"))
                    for (let keys = $Object.keys(message.deviceLoss), i = 0; i < keys.length; ++i) {
                        writer.uint32(/* id 15, wireType 2 =*/122).fork().uint32(/* id 1, wireType 2 =*/10).string(keys[i]);
                        $root.fieldline.v1.LossCounters.encode(message.deviceLoss[keys[i]], writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim().ldelim();
                    }
                if (message.deviceRefusals != null && $Object.hasOwnProperty.call(message, "deviceRefusals"))
                    for (let keys = $Object.keys(message.deviceRefusals), i = 0; i < keys.length; ++i) {
                        writer.uint32(/* id 16, wireType 2 =*/130).fork().uint32(/* id 1, wireType 2 =*/10).string(keys[i]);
                        $root.fieldline.v1.ReasonCounts.encode(message.deviceRefusals[keys[i]], writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim().ldelim();
                    }
                if (message.refusals != null && $Object.hasOwnProperty.call(message, "refusals"))
                    for (let keys = $Object.keys(message.refusals), i = 0; i < keys.length; ++i)
                        writer.uint32(/* id 17, wireType 2 =*/138).fork().uint32(/* id 1, wireType 2 =*/10).string(keys[i]).uint32(/* id 2, wireType 0 =*/16).uint64(message.refusals[keys[i]]).ldelim();
                if (message.drainSentPerSecond != null && $Object.hasOwnProperty.call(message, "drainSentPerSecond") && !$Object.is(message.drainSentPerSecond, 0))
                    writer.uint32(/* id 18, wireType 1 =*/145).double(message.drainSentPerSecond);
                if (message.drainInPerSecond != null && $Object.hasOwnProperty.call(message, "drainInPerSecond") && !$Object.is(message.drainInPerSecond, 0))
                    writer.uint32(/* id 19, wireType 1 =*/153).double(message.drainInPerSecond);
                if (message.drainEtaS != null && $Object.hasOwnProperty.call(message, "drainEtaS"))
                    writer.uint32(/* id 20, wireType 1 =*/161).double(message.drainEtaS);
                if (message.outboxBytes != null && $Object.hasOwnProperty.call(message, "outboxBytes") && (typeof message.outboxBytes === "object" ? message.outboxBytes.low || message.outboxBytes.high : message.outboxBytes !== 0))
                    writer.uint32(/* id 21, wireType 0 =*/168).uint64(message.outboxBytes);
                if (message.outboxFull != null && $Object.hasOwnProperty.call(message, "outboxFull") && message.outboxFull !== "")
                    writer.uint32(/* id 22, wireType 2 =*/178).string(message.outboxFull);
                if (message.outboxRecovered != null && $Object.hasOwnProperty.call(message, "outboxRecovered") && message.outboxRecovered !== "")
                    writer.uint32(/* id 23, wireType 2 =*/186).string(message.outboxRecovered);
                if (message.intervalMs != null && $Object.hasOwnProperty.call(message, "intervalMs") && message.intervalMs !== 0)
                    writer.uint32(/* id 24, wireType 0 =*/192).uint32(message.intervalMs);
                if (message.delayed != null && $Object.hasOwnProperty.call(message, "delayed") && message.delayed !== false)
                    writer.uint32(/* id 25, wireType 0 =*/200).bool(message.delayed);
                if (message.configVersion != null && $Object.hasOwnProperty.call(message, "configVersion") && (typeof message.configVersion === "object" ? message.configVersion.low || message.configVersion.high : message.configVersion !== 0))
                    writer.uint32(/* id 26, wireType 0 =*/208).uint64(message.configVersion);
                if (message.configError != null && $Object.hasOwnProperty.call(message, "configError") && message.configError !== "")
                    writer.uint32(/* id 27, wireType 2 =*/218).string(message.configError);
                if (message.configConflict != null && $Object.hasOwnProperty.call(message, "configConflict") && message.configConflict !== "")
                    writer.uint32(/* id 28, wireType 2 =*/226).string(message.configConflict);
                if (message.configSource != null && $Object.hasOwnProperty.call(message, "configSource") && message.configSource !== "")
                    writer.uint32(/* id 29, wireType 2 =*/234).string(message.configSource);
                if (message.configSeenVersion != null && $Object.hasOwnProperty.call(message, "configSeenVersion") && (typeof message.configSeenVersion === "object" ? message.configSeenVersion.low || message.configSeenVersion.high : message.configSeenVersion !== 0))
                    writer.uint32(/* id 30, wireType 0 =*/240).uint64(message.configSeenVersion);
                if (message.clockSynced != null && $Object.hasOwnProperty.call(message, "clockSynced") && message.clockSynced !== false)
                    writer.uint32(/* id 31, wireType 0 =*/248).bool(message.clockSynced);
                if (message.clockOffsetMs != null && $Object.hasOwnProperty.call(message, "clockOffsetMs") && (typeof message.clockOffsetMs === "object" ? message.clockOffsetMs.low || message.clockOffsetMs.high : message.clockOffsetMs !== 0))
                    writer.uint32(/* id 32, wireType 0 =*/256).int64(message.clockOffsetMs);
                if (message.clockSource != null && $Object.hasOwnProperty.call(message, "clockSource") && message.clockSource !== "")
                    writer.uint32(/* id 33, wireType 2 =*/266).string(message.clockSource);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a Heartbeat message from the specified reader or buffer.
             * @function decode
             * @memberof fieldline.v1.Heartbeat
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {fieldline.v1.Heartbeat & fieldline.v1.Heartbeat.$Shape} Heartbeat
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Heartbeat.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, key, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.fieldline.v1.Heartbeat();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.gatewayId = value;
                            else
                                delete message.gatewayId;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.tsMs = value;
                            else
                                delete message.tsMs;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.firmwareVersion = value;
                            else
                                delete message.firmwareVersion;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 1)
                                break;
                            if (!$Object.is(value = reader.double(), 0))
                                message.uptimeS = value;
                            else
                                delete message.uptimeS;
                            continue;
                        }
                    case 5: {
                            if (wireType !== 1)
                                break;
                            if (!$Object.is(value = reader.double(), 0))
                                message.cpuPercent = value;
                            else
                                delete message.cpuPercent;
                            continue;
                        }
                    case 6: {
                            if (wireType !== 1)
                                break;
                            if (!$Object.is(value = reader.double(), 0))
                                message.memoryUsedBytes = value;
                            else
                                delete message.memoryUsedBytes;
                            continue;
                        }
                    case 7: {
                            if (wireType !== 1)
                                break;
                            if (!$Object.is(value = reader.double(), 0))
                                message.memoryTotalBytes = value;
                            else
                                delete message.memoryTotalBytes;
                            continue;
                        }
                    case 8: {
                            if (wireType !== 1)
                                break;
                            if (!$Object.is(value = reader.double(), 0))
                                message.diskFreeBytes = value;
                            else
                                delete message.diskFreeBytes;
                            continue;
                        }
                    case 9: {
                            if (wireType !== 1)
                                break;
                            if (!$Object.is(value = reader.double(), 0))
                                message.diskTotalBytes = value;
                            else
                                delete message.diskTotalBytes;
                            continue;
                        }
                    case 10: {
                            if (wireType !== 1)
                                break;
                            message.temperatureC = reader.double();
                            message._temperatureC = "temperatureC";
                            continue;
                        }
                    case 11: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.outboxDepth = value;
                            else
                                delete message.outboxDepth;
                            continue;
                        }
                    case 12: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.outboxOldestAgeMs = value;
                            else
                                delete message.outboxOldestAgeMs;
                            continue;
                        }
                    case 13: {
                            if (wireType !== 2)
                                break;
                            if (!(message.adapters && message.adapters.length))
                                message.adapters = [];
                            message.adapters.push($root.fieldline.v1.AdapterStatus.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 14: {
                            if (wireType !== 2)
                                break;
                            message.loss = $root.fieldline.v1.LossCounters.decode(reader, reader.size(), $undefined, _depth + 1, message.loss);
                            continue;
                        }
                    case 15: {
                            if (wireType !== 2)
                                break;
                            if (message.deviceLoss === $util.emptyObject)
                                message.deviceLoss = {};
                            let end2 = reader.size() + reader.pos;
                            if (end2 > reader.len)
                                throw $RangeError("index out of range");
                            reader.len = end2;
                            key = "";
                            value = null;
                            while (reader.pos < end2) {
                                let tag2 = reader.tag();
                                wireType = tag2 & 7;
                                switch (tag2 >>>= 3) {
                                case 1:
                                    if (wireType !== 2)
                                        break;
                                    key = reader.stringVerify();
                                    continue;
                                case 2:
                                    if (wireType !== 2)
                                        break;
                                    value = $root.fieldline.v1.LossCounters.decode(reader, reader.size(), $undefined, _depth + 1, value);
                                    continue;
                                }
                                reader.skipType(wireType, _depth, tag2);
                            }
                            if (reader.pos !== end2)
                                throw $RangeError("index out of range");
                            reader.len = end;
                            if (key === "__proto__")
                                $util.makeProp(message.deviceLoss, key);
                            message.deviceLoss[key] = value || new $root.fieldline.v1.LossCounters();
                            continue;
                        }
                    case 16: {
                            if (wireType !== 2)
                                break;
                            if (message.deviceRefusals === $util.emptyObject)
                                message.deviceRefusals = {};
                            let end2 = reader.size() + reader.pos;
                            if (end2 > reader.len)
                                throw $RangeError("index out of range");
                            reader.len = end2;
                            key = "";
                            value = null;
                            while (reader.pos < end2) {
                                let tag2 = reader.tag();
                                wireType = tag2 & 7;
                                switch (tag2 >>>= 3) {
                                case 1:
                                    if (wireType !== 2)
                                        break;
                                    key = reader.stringVerify();
                                    continue;
                                case 2:
                                    if (wireType !== 2)
                                        break;
                                    value = $root.fieldline.v1.ReasonCounts.decode(reader, reader.size(), $undefined, _depth + 1, value);
                                    continue;
                                }
                                reader.skipType(wireType, _depth, tag2);
                            }
                            if (reader.pos !== end2)
                                throw $RangeError("index out of range");
                            reader.len = end;
                            if (key === "__proto__")
                                $util.makeProp(message.deviceRefusals, key);
                            message.deviceRefusals[key] = value || new $root.fieldline.v1.ReasonCounts();
                            continue;
                        }
                    case 17: {
                            if (wireType !== 2)
                                break;
                            if (message.refusals === $util.emptyObject)
                                message.refusals = {};
                            let end2 = reader.size() + reader.pos;
                            if (end2 > reader.len)
                                throw $RangeError("index out of range");
                            reader.len = end2;
                            key = "";
                            value = $util.Long ? $util.Long.fromNumber(0, true) : 0;
                            while (reader.pos < end2) {
                                let tag2 = reader.tag();
                                wireType = tag2 & 7;
                                switch (tag2 >>>= 3) {
                                case 1:
                                    if (wireType !== 2)
                                        break;
                                    key = reader.stringVerify();
                                    continue;
                                case 2:
                                    if (wireType !== 0)
                                        break;
                                    value = reader.uint64();
                                    continue;
                                }
                                reader.skipType(wireType, _depth, tag2);
                            }
                            if (reader.pos !== end2)
                                throw $RangeError("index out of range");
                            reader.len = end;
                            if (key === "__proto__")
                                $util.makeProp(message.refusals, key);
                            message.refusals[key] = value;
                            continue;
                        }
                    case 18: {
                            if (wireType !== 1)
                                break;
                            if (!$Object.is(value = reader.double(), 0))
                                message.drainSentPerSecond = value;
                            else
                                delete message.drainSentPerSecond;
                            continue;
                        }
                    case 19: {
                            if (wireType !== 1)
                                break;
                            if (!$Object.is(value = reader.double(), 0))
                                message.drainInPerSecond = value;
                            else
                                delete message.drainInPerSecond;
                            continue;
                        }
                    case 20: {
                            if (wireType !== 1)
                                break;
                            message.drainEtaS = reader.double();
                            message._drainEtaS = "drainEtaS";
                            continue;
                        }
                    case 21: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.outboxBytes = value;
                            else
                                delete message.outboxBytes;
                            continue;
                        }
                    case 22: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.outboxFull = value;
                            else
                                delete message.outboxFull;
                            continue;
                        }
                    case 23: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.outboxRecovered = value;
                            else
                                delete message.outboxRecovered;
                            continue;
                        }
                    case 24: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.intervalMs = value;
                            else
                                delete message.intervalMs;
                            continue;
                        }
                    case 25: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.delayed = value;
                            else
                                delete message.delayed;
                            continue;
                        }
                    case 26: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.configVersion = value;
                            else
                                delete message.configVersion;
                            continue;
                        }
                    case 27: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.configError = value;
                            else
                                delete message.configError;
                            continue;
                        }
                    case 28: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.configConflict = value;
                            else
                                delete message.configConflict;
                            continue;
                        }
                    case 29: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.configSource = value;
                            else
                                delete message.configSource;
                            continue;
                        }
                    case 30: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.configSeenVersion = value;
                            else
                                delete message.configSeenVersion;
                            continue;
                        }
                    case 31: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.clockSynced = value;
                            else
                                delete message.clockSynced;
                            continue;
                        }
                    case 32: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.clockOffsetMs = value;
                            else
                                delete message.clockOffsetMs;
                            continue;
                        }
                    case 33: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.clockSource = value;
                            else
                                delete message.clockSource;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Creates a Heartbeat message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof fieldline.v1.Heartbeat
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {fieldline.v1.Heartbeat} Heartbeat
             */
            Heartbeat.fromObject = function (object, _depth) {
                if (object instanceof $root.fieldline.v1.Heartbeat)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".fieldline.v1.Heartbeat: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.fieldline.v1.Heartbeat();
                if (object.gatewayId != null)
                    if (typeof object.gatewayId !== "string" || object.gatewayId.length)
                        message.gatewayId = $String(object.gatewayId);
                if (object.tsMs != null)
                    if (typeof object.tsMs === "object" ? object.tsMs.low || object.tsMs.high : $Number(object.tsMs) !== 0)
                        if ($util.Long)
                            message.tsMs = $util.Long.fromValue(object.tsMs, false);
                        else if (typeof object.tsMs === "string")
                            message.tsMs = $parseInt(object.tsMs, 10);
                        else if (typeof object.tsMs === "number")
                            message.tsMs = object.tsMs;
                        else if (typeof object.tsMs === "object")
                            message.tsMs = new $util.LongBits(object.tsMs.low >>> 0, object.tsMs.high >>> 0).toNumber();
                if (object.firmwareVersion != null)
                    if (typeof object.firmwareVersion !== "string" || object.firmwareVersion.length)
                        message.firmwareVersion = $String(object.firmwareVersion);
                if (object.uptimeS != null)
                    if (!$Object.is($Number(object.uptimeS), 0))
                        message.uptimeS = $Number(object.uptimeS);
                if (object.cpuPercent != null)
                    if (!$Object.is($Number(object.cpuPercent), 0))
                        message.cpuPercent = $Number(object.cpuPercent);
                if (object.memoryUsedBytes != null)
                    if (!$Object.is($Number(object.memoryUsedBytes), 0))
                        message.memoryUsedBytes = $Number(object.memoryUsedBytes);
                if (object.memoryTotalBytes != null)
                    if (!$Object.is($Number(object.memoryTotalBytes), 0))
                        message.memoryTotalBytes = $Number(object.memoryTotalBytes);
                if (object.diskFreeBytes != null)
                    if (!$Object.is($Number(object.diskFreeBytes), 0))
                        message.diskFreeBytes = $Number(object.diskFreeBytes);
                if (object.diskTotalBytes != null)
                    if (!$Object.is($Number(object.diskTotalBytes), 0))
                        message.diskTotalBytes = $Number(object.diskTotalBytes);
                if (object.temperatureC != null)
                    message.temperatureC = $Number(object.temperatureC);
                if (object.outboxDepth != null)
                    if (typeof object.outboxDepth === "object" ? object.outboxDepth.low || object.outboxDepth.high : $Number(object.outboxDepth) !== 0)
                        if ($util.Long)
                            message.outboxDepth = $util.Long.fromValue(object.outboxDepth, true);
                        else if (typeof object.outboxDepth === "string")
                            message.outboxDepth = $parseInt(object.outboxDepth, 10);
                        else if (typeof object.outboxDepth === "number")
                            message.outboxDepth = object.outboxDepth;
                        else if (typeof object.outboxDepth === "object")
                            message.outboxDepth = new $util.LongBits(object.outboxDepth.low >>> 0, object.outboxDepth.high >>> 0).toNumber(true);
                if (object.outboxOldestAgeMs != null)
                    if (typeof object.outboxOldestAgeMs === "object" ? object.outboxOldestAgeMs.low || object.outboxOldestAgeMs.high : $Number(object.outboxOldestAgeMs) !== 0)
                        if ($util.Long)
                            message.outboxOldestAgeMs = $util.Long.fromValue(object.outboxOldestAgeMs, false);
                        else if (typeof object.outboxOldestAgeMs === "string")
                            message.outboxOldestAgeMs = $parseInt(object.outboxOldestAgeMs, 10);
                        else if (typeof object.outboxOldestAgeMs === "number")
                            message.outboxOldestAgeMs = object.outboxOldestAgeMs;
                        else if (typeof object.outboxOldestAgeMs === "object")
                            message.outboxOldestAgeMs = new $util.LongBits(object.outboxOldestAgeMs.low >>> 0, object.outboxOldestAgeMs.high >>> 0).toNumber();
                if (object.adapters) {
                    if (!$Array.isArray(object.adapters))
                        throw $TypeError(".fieldline.v1.Heartbeat.adapters: array expected");
                    message.adapters = $Array(object.adapters.length);
                    for (let i = 0; i < object.adapters.length; ++i) {
                        if (!$util.isObject(object.adapters[i]))
                            throw $TypeError(".fieldline.v1.Heartbeat.adapters: object expected");
                        message.adapters[i] = $root.fieldline.v1.AdapterStatus.fromObject(object.adapters[i], _depth + 1);
                    }
                }
                if (object.loss != null) {
                    if (!$util.isObject(object.loss))
                        throw $TypeError(".fieldline.v1.Heartbeat.loss: object expected");
                    message.loss = $root.fieldline.v1.LossCounters.fromObject(object.loss, _depth + 1);
                }
                if (object.deviceLoss) {
                    if (!$util.isObject(object.deviceLoss))
                        throw $TypeError(".fieldline.v1.Heartbeat.deviceLoss: object expected");
                    message.deviceLoss = {};
                    for (let keys = $Object.keys(object.deviceLoss), i = 0; i < keys.length; ++i) {
                        if (keys[i] === "__proto__")
                            $util.makeProp(message.deviceLoss, keys[i]);
                        if (!$util.isObject(object.deviceLoss[keys[i]]))
                            throw $TypeError(".fieldline.v1.Heartbeat.deviceLoss: object expected");
                        message.deviceLoss[keys[i]] = $root.fieldline.v1.LossCounters.fromObject(object.deviceLoss[keys[i]], _depth + 1);
                    }
                }
                if (object.deviceRefusals) {
                    if (!$util.isObject(object.deviceRefusals))
                        throw $TypeError(".fieldline.v1.Heartbeat.deviceRefusals: object expected");
                    message.deviceRefusals = {};
                    for (let keys = $Object.keys(object.deviceRefusals), i = 0; i < keys.length; ++i) {
                        if (keys[i] === "__proto__")
                            $util.makeProp(message.deviceRefusals, keys[i]);
                        if (!$util.isObject(object.deviceRefusals[keys[i]]))
                            throw $TypeError(".fieldline.v1.Heartbeat.deviceRefusals: object expected");
                        message.deviceRefusals[keys[i]] = $root.fieldline.v1.ReasonCounts.fromObject(object.deviceRefusals[keys[i]], _depth + 1);
                    }
                }
                if (object.refusals) {
                    if (!$util.isObject(object.refusals))
                        throw $TypeError(".fieldline.v1.Heartbeat.refusals: object expected");
                    message.refusals = {};
                    for (let keys = $Object.keys(object.refusals), i = 0; i < keys.length; ++i) {
                        if (keys[i] === "__proto__")
                            $util.makeProp(message.refusals, keys[i]);
                        if ($util.Long)
                            message.refusals[keys[i]] = $util.Long.fromValue(object.refusals[keys[i]], true);
                        else if (typeof object.refusals[keys[i]] === "string")
                            message.refusals[keys[i]] = $parseInt(object.refusals[keys[i]], 10);
                        else if (typeof object.refusals[keys[i]] === "number")
                            message.refusals[keys[i]] = object.refusals[keys[i]];
                        else if (typeof object.refusals[keys[i]] === "object")
                            message.refusals[keys[i]] = new $util.LongBits(object.refusals[keys[i]].low >>> 0, object.refusals[keys[i]].high >>> 0).toNumber(true);
                    }
                }
                if (object.drainSentPerSecond != null)
                    if (!$Object.is($Number(object.drainSentPerSecond), 0))
                        message.drainSentPerSecond = $Number(object.drainSentPerSecond);
                if (object.drainInPerSecond != null)
                    if (!$Object.is($Number(object.drainInPerSecond), 0))
                        message.drainInPerSecond = $Number(object.drainInPerSecond);
                if (object.drainEtaS != null)
                    message.drainEtaS = $Number(object.drainEtaS);
                if (object.outboxBytes != null)
                    if (typeof object.outboxBytes === "object" ? object.outboxBytes.low || object.outboxBytes.high : $Number(object.outboxBytes) !== 0)
                        if ($util.Long)
                            message.outboxBytes = $util.Long.fromValue(object.outboxBytes, true);
                        else if (typeof object.outboxBytes === "string")
                            message.outboxBytes = $parseInt(object.outboxBytes, 10);
                        else if (typeof object.outboxBytes === "number")
                            message.outboxBytes = object.outboxBytes;
                        else if (typeof object.outboxBytes === "object")
                            message.outboxBytes = new $util.LongBits(object.outboxBytes.low >>> 0, object.outboxBytes.high >>> 0).toNumber(true);
                if (object.outboxFull != null)
                    if (typeof object.outboxFull !== "string" || object.outboxFull.length)
                        message.outboxFull = $String(object.outboxFull);
                if (object.outboxRecovered != null)
                    if (typeof object.outboxRecovered !== "string" || object.outboxRecovered.length)
                        message.outboxRecovered = $String(object.outboxRecovered);
                if (object.intervalMs != null)
                    if ($Number(object.intervalMs) !== 0)
                        message.intervalMs = object.intervalMs >>> 0;
                if (object.delayed != null)
                    if (object.delayed)
                        message.delayed = $Boolean(object.delayed);
                if (object.configVersion != null)
                    if (typeof object.configVersion === "object" ? object.configVersion.low || object.configVersion.high : $Number(object.configVersion) !== 0)
                        if ($util.Long)
                            message.configVersion = $util.Long.fromValue(object.configVersion, true);
                        else if (typeof object.configVersion === "string")
                            message.configVersion = $parseInt(object.configVersion, 10);
                        else if (typeof object.configVersion === "number")
                            message.configVersion = object.configVersion;
                        else if (typeof object.configVersion === "object")
                            message.configVersion = new $util.LongBits(object.configVersion.low >>> 0, object.configVersion.high >>> 0).toNumber(true);
                if (object.configError != null)
                    if (typeof object.configError !== "string" || object.configError.length)
                        message.configError = $String(object.configError);
                if (object.configConflict != null)
                    if (typeof object.configConflict !== "string" || object.configConflict.length)
                        message.configConflict = $String(object.configConflict);
                if (object.configSource != null)
                    if (typeof object.configSource !== "string" || object.configSource.length)
                        message.configSource = $String(object.configSource);
                if (object.configSeenVersion != null)
                    if (typeof object.configSeenVersion === "object" ? object.configSeenVersion.low || object.configSeenVersion.high : $Number(object.configSeenVersion) !== 0)
                        if ($util.Long)
                            message.configSeenVersion = $util.Long.fromValue(object.configSeenVersion, true);
                        else if (typeof object.configSeenVersion === "string")
                            message.configSeenVersion = $parseInt(object.configSeenVersion, 10);
                        else if (typeof object.configSeenVersion === "number")
                            message.configSeenVersion = object.configSeenVersion;
                        else if (typeof object.configSeenVersion === "object")
                            message.configSeenVersion = new $util.LongBits(object.configSeenVersion.low >>> 0, object.configSeenVersion.high >>> 0).toNumber(true);
                if (object.clockSynced != null)
                    if (object.clockSynced)
                        message.clockSynced = $Boolean(object.clockSynced);
                if (object.clockOffsetMs != null)
                    if (typeof object.clockOffsetMs === "object" ? object.clockOffsetMs.low || object.clockOffsetMs.high : $Number(object.clockOffsetMs) !== 0)
                        if ($util.Long)
                            message.clockOffsetMs = $util.Long.fromValue(object.clockOffsetMs, false);
                        else if (typeof object.clockOffsetMs === "string")
                            message.clockOffsetMs = $parseInt(object.clockOffsetMs, 10);
                        else if (typeof object.clockOffsetMs === "number")
                            message.clockOffsetMs = object.clockOffsetMs;
                        else if (typeof object.clockOffsetMs === "object")
                            message.clockOffsetMs = new $util.LongBits(object.clockOffsetMs.low >>> 0, object.clockOffsetMs.high >>> 0).toNumber();
                if (object.clockSource != null)
                    if (typeof object.clockSource !== "string" || object.clockSource.length)
                        message.clockSource = $String(object.clockSource);
                return message;
            };

            /**
             * Creates a plain object from a Heartbeat message. Also converts values to other types if specified.
             * @function toObject
             * @memberof fieldline.v1.Heartbeat
             * @static
             * @param {fieldline.v1.Heartbeat} message Heartbeat
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            Heartbeat.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.arrays || options.defaults)
                    object.adapters = [];
                if (options.objects || options.defaults) {
                    object.deviceLoss = {};
                    object.deviceRefusals = {};
                    object.refusals = {};
                }
                if (options.defaults) {
                    object.gatewayId = "";
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, false);
                        object.tsMs = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.tsMs = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.firmwareVersion = "";
                    object.uptimeS = 0;
                    object.cpuPercent = 0;
                    object.memoryUsedBytes = 0;
                    object.memoryTotalBytes = 0;
                    object.diskFreeBytes = 0;
                    object.diskTotalBytes = 0;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.outboxDepth = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.outboxDepth = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, false);
                        object.outboxOldestAgeMs = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.outboxOldestAgeMs = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.loss = null;
                    object.drainSentPerSecond = 0;
                    object.drainInPerSecond = 0;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.outboxBytes = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.outboxBytes = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.outboxFull = "";
                    object.outboxRecovered = "";
                    object.intervalMs = 0;
                    object.delayed = false;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.configVersion = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.configVersion = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.configError = "";
                    object.configConflict = "";
                    object.configSource = "";
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.configSeenVersion = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.configSeenVersion = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.clockSynced = false;
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, false);
                        object.clockOffsetMs = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.clockOffsetMs = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.clockSource = "";
                }
                if (message.gatewayId != null && $Object.hasOwnProperty.call(message, "gatewayId"))
                    object.gatewayId = message.gatewayId;
                if (message.tsMs != null && $Object.hasOwnProperty.call(message, "tsMs"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.tsMs = typeof message.tsMs === "number" ? $BigInt(message.tsMs) : $util.Long.fromBits(message.tsMs.low >>> 0, message.tsMs.high >>> 0, false).toBigInt();
                    else if (typeof message.tsMs === "number")
                        object.tsMs = options.longs === $String ? $String(message.tsMs) : message.tsMs;
                    else
                        object.tsMs = options.longs === $String ? $util.Long.prototype.toString.call(message.tsMs) : options.longs === $Number ? new $util.LongBits(message.tsMs.low >>> 0, message.tsMs.high >>> 0).toNumber() : message.tsMs;
                if (message.firmwareVersion != null && $Object.hasOwnProperty.call(message, "firmwareVersion"))
                    object.firmwareVersion = message.firmwareVersion;
                if (message.uptimeS != null && $Object.hasOwnProperty.call(message, "uptimeS"))
                    object.uptimeS = options.json && !$isFinite(message.uptimeS) ? $String(message.uptimeS) : message.uptimeS;
                if (message.cpuPercent != null && $Object.hasOwnProperty.call(message, "cpuPercent"))
                    object.cpuPercent = options.json && !$isFinite(message.cpuPercent) ? $String(message.cpuPercent) : message.cpuPercent;
                if (message.memoryUsedBytes != null && $Object.hasOwnProperty.call(message, "memoryUsedBytes"))
                    object.memoryUsedBytes = options.json && !$isFinite(message.memoryUsedBytes) ? $String(message.memoryUsedBytes) : message.memoryUsedBytes;
                if (message.memoryTotalBytes != null && $Object.hasOwnProperty.call(message, "memoryTotalBytes"))
                    object.memoryTotalBytes = options.json && !$isFinite(message.memoryTotalBytes) ? $String(message.memoryTotalBytes) : message.memoryTotalBytes;
                if (message.diskFreeBytes != null && $Object.hasOwnProperty.call(message, "diskFreeBytes"))
                    object.diskFreeBytes = options.json && !$isFinite(message.diskFreeBytes) ? $String(message.diskFreeBytes) : message.diskFreeBytes;
                if (message.diskTotalBytes != null && $Object.hasOwnProperty.call(message, "diskTotalBytes"))
                    object.diskTotalBytes = options.json && !$isFinite(message.diskTotalBytes) ? $String(message.diskTotalBytes) : message.diskTotalBytes;
                if (message.temperatureC != null && $Object.hasOwnProperty.call(message, "temperatureC"))
                    object.temperatureC = options.json && !$isFinite(message.temperatureC) ? $String(message.temperatureC) : message.temperatureC;
                if (message.outboxDepth != null && $Object.hasOwnProperty.call(message, "outboxDepth"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.outboxDepth = typeof message.outboxDepth === "number" ? $BigInt(message.outboxDepth) : $util.Long.fromBits(message.outboxDepth.low >>> 0, message.outboxDepth.high >>> 0, true).toBigInt();
                    else if (typeof message.outboxDepth === "number")
                        object.outboxDepth = options.longs === $String ? $String(message.outboxDepth) : message.outboxDepth;
                    else
                        object.outboxDepth = options.longs === $String ? $util.Long.prototype.toString.call(message.outboxDepth) : options.longs === $Number ? new $util.LongBits(message.outboxDepth.low >>> 0, message.outboxDepth.high >>> 0).toNumber(true) : message.outboxDepth;
                if (message.outboxOldestAgeMs != null && $Object.hasOwnProperty.call(message, "outboxOldestAgeMs"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.outboxOldestAgeMs = typeof message.outboxOldestAgeMs === "number" ? $BigInt(message.outboxOldestAgeMs) : $util.Long.fromBits(message.outboxOldestAgeMs.low >>> 0, message.outboxOldestAgeMs.high >>> 0, false).toBigInt();
                    else if (typeof message.outboxOldestAgeMs === "number")
                        object.outboxOldestAgeMs = options.longs === $String ? $String(message.outboxOldestAgeMs) : message.outboxOldestAgeMs;
                    else
                        object.outboxOldestAgeMs = options.longs === $String ? $util.Long.prototype.toString.call(message.outboxOldestAgeMs) : options.longs === $Number ? new $util.LongBits(message.outboxOldestAgeMs.low >>> 0, message.outboxOldestAgeMs.high >>> 0).toNumber() : message.outboxOldestAgeMs;
                if (message.adapters && message.adapters.length) {
                    object.adapters = $Array(message.adapters.length);
                    for (let j = 0; j < message.adapters.length; ++j)
                        object.adapters[j] = $root.fieldline.v1.AdapterStatus.toObject(message.adapters[j], options, _depth + 1);
                }
                if (message.loss != null && $Object.hasOwnProperty.call(message, "loss"))
                    object.loss = $root.fieldline.v1.LossCounters.toObject(message.loss, options, _depth + 1);
                let keys2;
                if (message.deviceLoss && (keys2 = $Object.keys(message.deviceLoss)).length) {
                    object.deviceLoss = {};
                    for (let j = 0; j < keys2.length; ++j) {
                        if (keys2[j] === "__proto__")
                            $util.makeProp(object.deviceLoss, keys2[j]);
                        object.deviceLoss[keys2[j]] = $root.fieldline.v1.LossCounters.toObject(message.deviceLoss[keys2[j]], options, _depth + 1);
                    }
                }
                if (message.deviceRefusals && (keys2 = $Object.keys(message.deviceRefusals)).length) {
                    object.deviceRefusals = {};
                    for (let j = 0; j < keys2.length; ++j) {
                        if (keys2[j] === "__proto__")
                            $util.makeProp(object.deviceRefusals, keys2[j]);
                        object.deviceRefusals[keys2[j]] = $root.fieldline.v1.ReasonCounts.toObject(message.deviceRefusals[keys2[j]], options, _depth + 1);
                    }
                }
                if (message.refusals && (keys2 = $Object.keys(message.refusals)).length) {
                    object.refusals = {};
                    for (let j = 0; j < keys2.length; ++j) {
                        if (keys2[j] === "__proto__")
                            $util.makeProp(object.refusals, keys2[j]);
                        if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                            object.refusals[keys2[j]] = typeof message.refusals[keys2[j]] === "number" ? $BigInt(message.refusals[keys2[j]]) : $util.Long.fromBits(message.refusals[keys2[j]].low >>> 0, message.refusals[keys2[j]].high >>> 0, true).toBigInt();
                        else if (typeof message.refusals[keys2[j]] === "number")
                            object.refusals[keys2[j]] = options.longs === $String ? $String(message.refusals[keys2[j]]) : message.refusals[keys2[j]];
                        else
                            object.refusals[keys2[j]] = options.longs === $String ? $util.Long.prototype.toString.call(message.refusals[keys2[j]]) : options.longs === $Number ? new $util.LongBits(message.refusals[keys2[j]].low >>> 0, message.refusals[keys2[j]].high >>> 0).toNumber(true) : message.refusals[keys2[j]];
                    }
                }
                if (message.drainSentPerSecond != null && $Object.hasOwnProperty.call(message, "drainSentPerSecond"))
                    object.drainSentPerSecond = options.json && !$isFinite(message.drainSentPerSecond) ? $String(message.drainSentPerSecond) : message.drainSentPerSecond;
                if (message.drainInPerSecond != null && $Object.hasOwnProperty.call(message, "drainInPerSecond"))
                    object.drainInPerSecond = options.json && !$isFinite(message.drainInPerSecond) ? $String(message.drainInPerSecond) : message.drainInPerSecond;
                if (message.drainEtaS != null && $Object.hasOwnProperty.call(message, "drainEtaS"))
                    object.drainEtaS = options.json && !$isFinite(message.drainEtaS) ? $String(message.drainEtaS) : message.drainEtaS;
                if (message.outboxBytes != null && $Object.hasOwnProperty.call(message, "outboxBytes"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.outboxBytes = typeof message.outboxBytes === "number" ? $BigInt(message.outboxBytes) : $util.Long.fromBits(message.outboxBytes.low >>> 0, message.outboxBytes.high >>> 0, true).toBigInt();
                    else if (typeof message.outboxBytes === "number")
                        object.outboxBytes = options.longs === $String ? $String(message.outboxBytes) : message.outboxBytes;
                    else
                        object.outboxBytes = options.longs === $String ? $util.Long.prototype.toString.call(message.outboxBytes) : options.longs === $Number ? new $util.LongBits(message.outboxBytes.low >>> 0, message.outboxBytes.high >>> 0).toNumber(true) : message.outboxBytes;
                if (message.outboxFull != null && $Object.hasOwnProperty.call(message, "outboxFull"))
                    object.outboxFull = message.outboxFull;
                if (message.outboxRecovered != null && $Object.hasOwnProperty.call(message, "outboxRecovered"))
                    object.outboxRecovered = message.outboxRecovered;
                if (message.intervalMs != null && $Object.hasOwnProperty.call(message, "intervalMs"))
                    object.intervalMs = message.intervalMs;
                if (message.delayed != null && $Object.hasOwnProperty.call(message, "delayed"))
                    object.delayed = message.delayed;
                if (message.configVersion != null && $Object.hasOwnProperty.call(message, "configVersion"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.configVersion = typeof message.configVersion === "number" ? $BigInt(message.configVersion) : $util.Long.fromBits(message.configVersion.low >>> 0, message.configVersion.high >>> 0, true).toBigInt();
                    else if (typeof message.configVersion === "number")
                        object.configVersion = options.longs === $String ? $String(message.configVersion) : message.configVersion;
                    else
                        object.configVersion = options.longs === $String ? $util.Long.prototype.toString.call(message.configVersion) : options.longs === $Number ? new $util.LongBits(message.configVersion.low >>> 0, message.configVersion.high >>> 0).toNumber(true) : message.configVersion;
                if (message.configError != null && $Object.hasOwnProperty.call(message, "configError"))
                    object.configError = message.configError;
                if (message.configConflict != null && $Object.hasOwnProperty.call(message, "configConflict"))
                    object.configConflict = message.configConflict;
                if (message.configSource != null && $Object.hasOwnProperty.call(message, "configSource"))
                    object.configSource = message.configSource;
                if (message.configSeenVersion != null && $Object.hasOwnProperty.call(message, "configSeenVersion"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.configSeenVersion = typeof message.configSeenVersion === "number" ? $BigInt(message.configSeenVersion) : $util.Long.fromBits(message.configSeenVersion.low >>> 0, message.configSeenVersion.high >>> 0, true).toBigInt();
                    else if (typeof message.configSeenVersion === "number")
                        object.configSeenVersion = options.longs === $String ? $String(message.configSeenVersion) : message.configSeenVersion;
                    else
                        object.configSeenVersion = options.longs === $String ? $util.Long.prototype.toString.call(message.configSeenVersion) : options.longs === $Number ? new $util.LongBits(message.configSeenVersion.low >>> 0, message.configSeenVersion.high >>> 0).toNumber(true) : message.configSeenVersion;
                if (message.clockSynced != null && $Object.hasOwnProperty.call(message, "clockSynced"))
                    object.clockSynced = message.clockSynced;
                if (message.clockOffsetMs != null && $Object.hasOwnProperty.call(message, "clockOffsetMs"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.clockOffsetMs = typeof message.clockOffsetMs === "number" ? $BigInt(message.clockOffsetMs) : $util.Long.fromBits(message.clockOffsetMs.low >>> 0, message.clockOffsetMs.high >>> 0, false).toBigInt();
                    else if (typeof message.clockOffsetMs === "number")
                        object.clockOffsetMs = options.longs === $String ? $String(message.clockOffsetMs) : message.clockOffsetMs;
                    else
                        object.clockOffsetMs = options.longs === $String ? $util.Long.prototype.toString.call(message.clockOffsetMs) : options.longs === $Number ? new $util.LongBits(message.clockOffsetMs.low >>> 0, message.clockOffsetMs.high >>> 0).toNumber() : message.clockOffsetMs;
                if (message.clockSource != null && $Object.hasOwnProperty.call(message, "clockSource"))
                    object.clockSource = message.clockSource;
                return object;
            };

            /**
             * Converts this Heartbeat to JSON.
             * @function toJSON
             * @memberof fieldline.v1.Heartbeat
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            Heartbeat.prototype.toJSON = function() {
                return Heartbeat.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for Heartbeat
             * @function getTypeUrl
             * @memberof fieldline.v1.Heartbeat
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Heartbeat.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/fieldline.v1.Heartbeat";
            };

            return Heartbeat;
        })();

        v1.QuarantinedReading = (function() {

            /**
             * Properties of a QuarantinedReading.
             * @typedef {Object} fieldline.v1.QuarantinedReading.$Properties
             * @property {string|null} [gatewayId] QuarantinedReading gatewayId
             * @property {string|null} [deviceId] QuarantinedReading deviceId
             * @property {number|null} [tsMs] QuarantinedReading tsMs
             * @property {Uint8Array|null} [raw] QuarantinedReading raw
             * @property {fieldline.v1.SourceProtocol|null} [source] QuarantinedReading source
             * @property {string|null} [reasonCode] QuarantinedReading reasonCode
             * @property {string|null} [reason] QuarantinedReading reason
             * @property {string|null} [topic] QuarantinedReading topic
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a QuarantinedReading.
             * @memberof fieldline.v1
             * @interface IQuarantinedReading
             * @augments fieldline.v1.QuarantinedReading.$Properties
             * @deprecated Use fieldline.v1.QuarantinedReading.$Properties instead.
             */

            /**
             * Shape of a QuarantinedReading.
             * @typedef {fieldline.v1.QuarantinedReading.$Properties} fieldline.v1.QuarantinedReading.$Shape
             */

            /**
             * Constructs a new QuarantinedReading.
             * @memberof fieldline.v1
             * @classdesc Represents a QuarantinedReading.
             * @constructor
             * @param {fieldline.v1.QuarantinedReading.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const QuarantinedReading = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * QuarantinedReading gatewayId.
             * @member {string} gatewayId
             * @memberof fieldline.v1.QuarantinedReading
             * @instance
             */
            QuarantinedReading.prototype.gatewayId = "";

            /**
             * QuarantinedReading deviceId.
             * @member {string} deviceId
             * @memberof fieldline.v1.QuarantinedReading
             * @instance
             */
            QuarantinedReading.prototype.deviceId = "";

            /**
             * QuarantinedReading tsMs.
             * @member {number} tsMs
             * @memberof fieldline.v1.QuarantinedReading
             * @instance
             */
            QuarantinedReading.prototype.tsMs = $util.Long ? $util.Long.fromBits(0,0,false) : 0;

            /**
             * QuarantinedReading raw.
             * @member {Uint8Array} raw
             * @memberof fieldline.v1.QuarantinedReading
             * @instance
             */
            QuarantinedReading.prototype.raw = $util.newBuffer([]);

            /**
             * QuarantinedReading source.
             * @member {fieldline.v1.SourceProtocol} source
             * @memberof fieldline.v1.QuarantinedReading
             * @instance
             */
            QuarantinedReading.prototype.source = 0;

            /**
             * QuarantinedReading reasonCode.
             * @member {string} reasonCode
             * @memberof fieldline.v1.QuarantinedReading
             * @instance
             */
            QuarantinedReading.prototype.reasonCode = "";

            /**
             * QuarantinedReading reason.
             * @member {string} reason
             * @memberof fieldline.v1.QuarantinedReading
             * @instance
             */
            QuarantinedReading.prototype.reason = "";

            /**
             * QuarantinedReading topic.
             * @member {string} topic
             * @memberof fieldline.v1.QuarantinedReading
             * @instance
             */
            QuarantinedReading.prototype.topic = "";

            /**
             * Creates a new QuarantinedReading instance using the specified properties.
             * @function create
             * @memberof fieldline.v1.QuarantinedReading
             * @static
             * @param {fieldline.v1.QuarantinedReading.$Properties=} [properties] Properties to set
             * @returns {fieldline.v1.QuarantinedReading} QuarantinedReading instance
             * @type {{
             *   (properties: fieldline.v1.QuarantinedReading.$Shape): fieldline.v1.QuarantinedReading & fieldline.v1.QuarantinedReading.$Shape;
             *   (properties?: fieldline.v1.QuarantinedReading.$Properties): fieldline.v1.QuarantinedReading;
             * }}
             */
            QuarantinedReading.create = function(properties) {
                return new QuarantinedReading(properties);
            };

            /**
             * Encodes the specified QuarantinedReading message. Does not implicitly {@link fieldline.v1.QuarantinedReading.verify|verify} messages.
             * @function encode
             * @memberof fieldline.v1.QuarantinedReading
             * @static
             * @param {fieldline.v1.QuarantinedReading.$Properties} message QuarantinedReading message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            QuarantinedReading.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.gatewayId != null && $Object.hasOwnProperty.call(message, "gatewayId") && message.gatewayId !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.gatewayId);
                if (message.deviceId != null && $Object.hasOwnProperty.call(message, "deviceId") && message.deviceId !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.deviceId);
                if (message.tsMs != null && $Object.hasOwnProperty.call(message, "tsMs") && (typeof message.tsMs === "object" ? message.tsMs.low || message.tsMs.high : message.tsMs !== 0))
                    writer.uint32(/* id 3, wireType 0 =*/24).int64(message.tsMs);
                if (message.raw != null && $Object.hasOwnProperty.call(message, "raw") && message.raw.length)
                    writer.uint32(/* id 4, wireType 2 =*/34).bytes(message.raw);
                if (message.source != null && $Object.hasOwnProperty.call(message, "source") && message.source !== 0)
                    writer.uint32(/* id 5, wireType 0 =*/40).int32(message.source);
                if (message.reasonCode != null && $Object.hasOwnProperty.call(message, "reasonCode") && message.reasonCode !== "")
                    writer.uint32(/* id 6, wireType 2 =*/50).string(message.reasonCode);
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason") && message.reason !== "")
                    writer.uint32(/* id 7, wireType 2 =*/58).string(message.reason);
                if (message.topic != null && $Object.hasOwnProperty.call(message, "topic") && message.topic !== "")
                    writer.uint32(/* id 8, wireType 2 =*/66).string(message.topic);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Decodes a QuarantinedReading message from the specified reader or buffer.
             * @function decode
             * @memberof fieldline.v1.QuarantinedReading
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {fieldline.v1.QuarantinedReading & fieldline.v1.QuarantinedReading.$Shape} QuarantinedReading
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            QuarantinedReading.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.fieldline.v1.QuarantinedReading();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.gatewayId = value;
                            else
                                delete message.gatewayId;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.deviceId = value;
                            else
                                delete message.deviceId;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.int64()) === "object" ? value.low || value.high : value !== 0)
                                message.tsMs = value;
                            else
                                delete message.tsMs;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.bytes()).length)
                                message.raw = value;
                            else
                                delete message.raw;
                            continue;
                        }
                    case 5: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.source = value;
                            else
                                delete message.source;
                            continue;
                        }
                    case 6: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.reasonCode = value;
                            else
                                delete message.reasonCode;
                            continue;
                        }
                    case 7: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.reason = value;
                            else
                                delete message.reason;
                            continue;
                        }
                    case 8: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.topic = value;
                            else
                                delete message.topic;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Creates a QuarantinedReading message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof fieldline.v1.QuarantinedReading
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {fieldline.v1.QuarantinedReading} QuarantinedReading
             */
            QuarantinedReading.fromObject = function (object, _depth) {
                if (object instanceof $root.fieldline.v1.QuarantinedReading)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".fieldline.v1.QuarantinedReading: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.fieldline.v1.QuarantinedReading();
                if (object.gatewayId != null)
                    if (typeof object.gatewayId !== "string" || object.gatewayId.length)
                        message.gatewayId = $String(object.gatewayId);
                if (object.deviceId != null)
                    if (typeof object.deviceId !== "string" || object.deviceId.length)
                        message.deviceId = $String(object.deviceId);
                if (object.tsMs != null)
                    if (typeof object.tsMs === "object" ? object.tsMs.low || object.tsMs.high : $Number(object.tsMs) !== 0)
                        if ($util.Long)
                            message.tsMs = $util.Long.fromValue(object.tsMs, false);
                        else if (typeof object.tsMs === "string")
                            message.tsMs = $parseInt(object.tsMs, 10);
                        else if (typeof object.tsMs === "number")
                            message.tsMs = object.tsMs;
                        else if (typeof object.tsMs === "object")
                            message.tsMs = new $util.LongBits(object.tsMs.low >>> 0, object.tsMs.high >>> 0).toNumber();
                if (object.raw != null)
                    if (object.raw.length)
                        if (typeof object.raw === "string")
                            $util.base64.decode(object.raw, message.raw = $util.newBuffer($util.base64.length(object.raw)), 0);
                        else if (object.raw.length >= 0)
                            message.raw = object.raw;
                if (object.source !== 0 && (typeof object.source !== "string" || $root.fieldline.v1.SourceProtocol[object.source] !== 0))
                    switch (object.source) {
                    case "SOURCE_PROTOCOL_UNSPECIFIED":
                    case 0:
                        message.source = 0;
                        break;
                    case "SOURCE_PROTOCOL_MQTT":
                    case 1:
                        message.source = 1;
                        break;
                    case "SOURCE_PROTOCOL_COAP":
                    case 2:
                        message.source = 2;
                        break;
                    case "SOURCE_PROTOCOL_MODBUS_RTU":
                    case 3:
                        message.source = 3;
                        break;
                    case "SOURCE_PROTOCOL_MODBUS_TCP":
                    case 4:
                        message.source = 4;
                        break;
                    default:
                        if (typeof object.source === "number" && (object.source | 0) === object.source)
                            message.source = object.source;
                    }
                if (object.reasonCode != null)
                    if (typeof object.reasonCode !== "string" || object.reasonCode.length)
                        message.reasonCode = $String(object.reasonCode);
                if (object.reason != null)
                    if (typeof object.reason !== "string" || object.reason.length)
                        message.reason = $String(object.reason);
                if (object.topic != null)
                    if (typeof object.topic !== "string" || object.topic.length)
                        message.topic = $String(object.topic);
                return message;
            };

            /**
             * Creates a plain object from a QuarantinedReading message. Also converts values to other types if specified.
             * @function toObject
             * @memberof fieldline.v1.QuarantinedReading
             * @static
             * @param {fieldline.v1.QuarantinedReading} message QuarantinedReading
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            QuarantinedReading.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.defaults) {
                    object.gatewayId = "";
                    object.deviceId = "";
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, false);
                        object.tsMs = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.tsMs = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    if (options.bytes === $String)
                        object.raw = "";
                    else {
                        object.raw = [];
                        if (options.bytes !== $Array)
                            object.raw = $util.newBuffer(object.raw);
                    }
                    object.source = options.enums === $String ? "SOURCE_PROTOCOL_UNSPECIFIED" : 0;
                    object.reasonCode = "";
                    object.reason = "";
                    object.topic = "";
                }
                if (message.gatewayId != null && $Object.hasOwnProperty.call(message, "gatewayId"))
                    object.gatewayId = message.gatewayId;
                if (message.deviceId != null && $Object.hasOwnProperty.call(message, "deviceId"))
                    object.deviceId = message.deviceId;
                if (message.tsMs != null && $Object.hasOwnProperty.call(message, "tsMs"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.tsMs = typeof message.tsMs === "number" ? $BigInt(message.tsMs) : $util.Long.fromBits(message.tsMs.low >>> 0, message.tsMs.high >>> 0, false).toBigInt();
                    else if (typeof message.tsMs === "number")
                        object.tsMs = options.longs === $String ? $String(message.tsMs) : message.tsMs;
                    else
                        object.tsMs = options.longs === $String ? $util.Long.prototype.toString.call(message.tsMs) : options.longs === $Number ? new $util.LongBits(message.tsMs.low >>> 0, message.tsMs.high >>> 0).toNumber() : message.tsMs;
                if (message.raw != null && $Object.hasOwnProperty.call(message, "raw"))
                    object.raw = options.bytes === $String ? $util.base64.encode(message.raw, 0, message.raw.length) : options.bytes === $Array ? $Array.prototype.slice.call(message.raw) : message.raw;
                if (message.source != null && $Object.hasOwnProperty.call(message, "source"))
                    object.source = options.enums === $String ? $root.fieldline.v1.SourceProtocol[message.source] === $undefined ? message.source : $root.fieldline.v1.SourceProtocol[message.source] : message.source;
                if (message.reasonCode != null && $Object.hasOwnProperty.call(message, "reasonCode"))
                    object.reasonCode = message.reasonCode;
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason"))
                    object.reason = message.reason;
                if (message.topic != null && $Object.hasOwnProperty.call(message, "topic"))
                    object.topic = message.topic;
                return object;
            };

            /**
             * Converts this QuarantinedReading to JSON.
             * @function toJSON
             * @memberof fieldline.v1.QuarantinedReading
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            QuarantinedReading.prototype.toJSON = function() {
                return QuarantinedReading.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for QuarantinedReading
             * @function getTypeUrl
             * @memberof fieldline.v1.QuarantinedReading
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            QuarantinedReading.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/fieldline.v1.QuarantinedReading";
            };

            return QuarantinedReading;
        })();

        return v1;
    })();

    return fieldline;
})();

export {
  $root as default
};
