-- Wireshark dissector for the DeadlineRPC wire protocol, version 1 (docs/PROTOCOL.md).
--
-- Decodes the preface and all ten frame types, reassembles frames split across TCP segments and decodes every
-- frame of a segment that holds several. Found by a heuristic (a connection whose first bytes are the preface
-- `DRPC 00 01 0d 0a`) or on the TCP port set in the `drpc.port` preference (for captures that start mid-connection).
-- Usage and a sample are in tools/wireshark/README.md; Tests/DeadlineRPCTests/Tools/DissectorCaptureTests.swift
-- checks it against a capture of a real run.

local drpc = Proto("drpc", "DeadlineRPC")

-- The largest maxFrameSize a peer may advertise (§7): a header declaring more is not a frame, so the dissector
-- reports it instead of waiting for gigabytes that will never come.
local MAX_FRAME_PAYLOAD = 16777216
local HEADER_LENGTH = 10
local PREFACE_LENGTH = 8

local frame_types = {
    [0x0] = "SETTINGS", [0x1] = "CALL_START", [0x2] = "MESSAGE", [0x3] = "MESSAGE_CONTINUATION",
    [0x4] = "HALF_CLOSE", [0x5] = "CALL_END", [0x6] = "CANCEL", [0x7] = "CREDIT", [0x8] = "PING", [0x9] = "GOAWAY",
}

local status_codes = {
    [0] = "OK", [1] = "CANCELLED", [2] = "UNKNOWN", [3] = "INVALID_ARGUMENT", [4] = "DEADLINE_EXCEEDED",
    [5] = "NOT_FOUND", [6] = "ALREADY_EXISTS", [7] = "PERMISSION_DENIED", [8] = "RESOURCE_EXHAUSTED",
    [9] = "FAILED_PRECONDITION", [10] = "ABORTED", [11] = "OUT_OF_RANGE", [12] = "UNIMPLEMENTED", [13] = "INTERNAL",
    [14] = "UNAVAILABLE", [15] = "DATA_LOSS", [16] = "UNAUTHENTICATED",
}

local cancel_reasons = {
    [0] = "cancelled", [1] = "deadline exceeded", [2] = "shutting down", [3] = "sibling failed", [4] = "hedge lost",
    [5] = "resource limit", [6] = "stream error",
}

local goaway_codes = {
    [0] = "NO_ERROR", [1] = "PROTOCOL_ERROR", [2] = "INTERNAL_ERROR", [3] = "FLOW_CONTROL_ERROR", [4] = "TIMEOUT",
    [5] = "FRAME_SIZE_ERROR", [6] = "ENHANCE_YOUR_CALM", [7] = "UNSUPPORTED_VERSION", [8] = "TOO_MANY_PINGS",
    [9] = "BAD_PREFACE",
}

local setting_ids = {
    [0x1] = "maxFrameSize", [0x2] = "maxConcurrentStreams", [0x3] = "initialStreamCredit", [0x4] = "maxMessageSize",
    [0x5] = "maxMetadataSize", [0x6] = "maxMetadataEntries", [0x7] = "acceptedEncodings",
}

local encodings = { [0] = "identity", [1] = "gzip", [2] = "deflate" }

-- The names the protocol gives unknown values: status 17-255 reads as UNKNOWN, reason 7-255 as cancelled, an
-- unknown GOAWAY code as INTERNAL_ERROR (§13.3). Shown beside the raw value, never instead of it.
local function status_name(code) return status_codes[code] or ("UNKNOWN (undefined code " .. code .. ")") end
local function reason_name(code) return cancel_reasons[code] or ("cancelled (undefined reason " .. code .. ")") end
local function goaway_name(code)
    return goaway_codes[code] or ("INTERNAL_ERROR (undefined code " .. code .. ")")
end

local f = {
    preface_magic = ProtoField.string("drpc.preface.magic", "Magic"),
    preface_version = ProtoField.uint16("drpc.preface.version", "Protocol version"),
    preface_terminator = ProtoField.bytes("drpc.preface.terminator", "Terminator"),

    length = ProtoField.uint32("drpc.length", "Payload length"),
    type = ProtoField.uint8("drpc.type", "Type", base.HEX, frame_types),
    flags = ProtoField.uint8("drpc.flags", "Flags", base.HEX),
    flag_has_deadline = ProtoField.bool("drpc.flags.has_deadline", "HAS_DEADLINE", 8, nil, 0x01),
    flag_end_stream = ProtoField.bool("drpc.flags.end_stream", "END_STREAM", 8, nil, 0x01),
    flag_more = ProtoField.bool("drpc.flags.more", "MORE", 8, nil, 0x02),
    flag_compressed = ProtoField.bool("drpc.flags.compressed", "COMPRESSED", 8, nil, 0x04),
    flag_ack = ProtoField.bool("drpc.flags.ack", "ACK", 8, nil, 0x01),
    flag_undefined = ProtoField.uint8("drpc.flags.undefined", "Undefined bits", base.HEX),
    reserved = ProtoField.bool("drpc.stream_id.reserved", "Reserved bit", 32, nil, 0x80000000),
    stream_id = ProtoField.uint32("drpc.stream_id", "Stream ID", base.DEC, nil, 0x7fffffff),
    payload = ProtoField.bytes("drpc.payload", "Payload"),

    setting = ProtoField.uint16("drpc.setting.id", "Setting", base.HEX, setting_ids),
    setting_value = ProtoField.uint32("drpc.setting.value", "Value"),

    remaining = ProtoField.int64("drpc.budget.remaining_us", "Remaining budget (µs)"),
    remaining_ms = ProtoField.double("drpc.budget.remaining_ms", "Remaining budget (ms)"),
    original = ProtoField.int64("drpc.budget.original_us", "Original budget (µs)"),
    original_ms = ProtoField.double("drpc.budget.original_ms", "Original budget (ms)"),
    used_ms = ProtoField.double("drpc.budget.used_ms", "Budget used above this hop (ms)"),
    hop_count = ProtoField.uint8("drpc.hop_count", "Hop count"),
    encoding = ProtoField.uint8("drpc.encoding", "Message encoding", base.DEC, encodings),
    method_length = ProtoField.uint16("drpc.method.length", "Method length"),
    method = ProtoField.string("drpc.method", "Method"),

    metadata_length = ProtoField.uint32("drpc.metadata.length", "Metadata block length"),
    metadata_count = ProtoField.uint16("drpc.metadata.count", "Metadata entry count"),
    metadata_key_length = ProtoField.uint8("drpc.metadata.key_length", "Key length"),
    metadata_key = ProtoField.string("drpc.metadata.key", "Key"),
    metadata_value_length = ProtoField.uint16("drpc.metadata.value_length", "Value length"),
    metadata_value = ProtoField.string("drpc.metadata.value", "Value"),
    metadata_value_bin = ProtoField.bytes("drpc.metadata.value_bin", "Binary value"),

    message_length = ProtoField.uint32("drpc.message.length", "Message length"),
    chunk_length = ProtoField.uint32("drpc.message.chunk_length", "Chunk length"),
    chunk = ProtoField.bytes("drpc.message.chunk", "Chunk"),

    status = ProtoField.uint8("drpc.status", "Status"),
    status_name = ProtoField.string("drpc.status.name", "Status name"),
    status_message_length = ProtoField.uint16("drpc.status.message_length", "Status message length"),
    status_message = ProtoField.string("drpc.status.message", "Status message"),

    cancel_reason = ProtoField.uint8("drpc.cancel.reason", "Reason"),
    cancel_reason_name = ProtoField.string("drpc.cancel.reason_name", "Reason name"),

    credit = ProtoField.uint32("drpc.credit.increment", "Increment (bytes)"),

    ping_data = ProtoField.uint64("drpc.ping.data", "Opaque data", base.HEX),

    goaway_last_stream_id = ProtoField.uint32("drpc.goaway.last_stream_id", "Last stream ID", base.DEC, nil, 0x7fffffff),
    goaway_code = ProtoField.uint32("drpc.goaway.code", "Code"),
    goaway_code_name = ProtoField.string("drpc.goaway.code_name", "Code name"),
    goaway_reason_length = ProtoField.uint16("drpc.goaway.reason_length", "Reason length"),
    goaway_reason = ProtoField.string("drpc.goaway.reason", "Reason"),
}
drpc.fields = {}
for _, field in pairs(f) do table.insert(drpc.fields, field) end

local e = {
    malformed = ProtoExpert.new("drpc.malformed", "Malformed frame", expert.group.MALFORMED, expert.severity.ERROR),
    too_large = ProtoExpert.new("drpc.too_large", "Frame longer than any peer accepts", expert.group.MALFORMED,
        expert.severity.ERROR),
    unknown_type = ProtoExpert.new("drpc.unknown_type", "Unknown frame type (skipped by receivers)",
        expert.group.UNDECODED, expert.severity.NOTE),
    undefined_flags = ProtoExpert.new("drpc.undefined_flags", "Undefined flag bits (ignored by receivers)",
        expert.group.PROTOCOL, expert.severity.WARN),
    reserved_bit = ProtoExpert.new("drpc.reserved_bit", "Reserved bit 31 of the stream ID set", expert.group.PROTOCOL,
        expert.severity.ERROR),
    bad_preface = ProtoExpert.new("drpc.bad_preface", "Bad preface", expert.group.MALFORMED, expert.severity.ERROR),
    undefined_code = ProtoExpert.new("drpc.undefined_code", "Undefined code", expert.group.PROTOCOL,
        expert.severity.WARN),
}
drpc.experts = { e.malformed, e.too_large, e.unknown_type, e.undefined_flags, e.reserved_bit, e.bad_preface,
    e.undefined_code }

drpc.prefs.port = Pref.uint("TCP port", 0, "Decode this TCP port as DeadlineRPC (0: only connections whose "
    .. "preface was captured, found by the heuristic)")

-- Microseconds (an Int64) as milliseconds with all three decimals, exact for every i64.
local function ms_text(us)
    if us == Int64.min() then return "-9223372036854775.808 ms" end
    local negative = us < Int64(0)
    local magnitude = negative and -us or us
    return string.format("%s%s.%03d ms", negative and "-" or "", tostring(magnitude / 1000),
        (magnitude % 1000):tonumber())
end

-- A printable rendering of bytes for the Info column and labels (non-printables as \xNN).
local function printable(range)
    if range:len() == 0 then return "" end
    local bytes = range:bytes()
    local out = {}
    for i = 0, bytes:len() - 1 do
        local b = bytes:get_index(i)
        if b >= 0x20 and b <= 0x7e and b ~= 0x5c then out[#out + 1] = string.char(b)
        else out[#out + 1] = string.format("\\x%02x", b) end
    end
    return table.concat(out)
end

-- A cursor over one frame's payload that reports a malformed frame instead of reading past the end.
local function need(tree, tvb, offset, count, what)
    if tvb:len() - offset >= count then return true end
    tree:add_proto_expert_info(e.malformed, string.format("Truncated %s: %d bytes needed, %d left", what, count,
        tvb:len() - offset))
    return false
end

-- A metadata block (§6); returns the offset after it, or nil when it is malformed, and a short summary.
local function dissect_metadata(tvb, tree, offset, title)
    if not need(tree, tvb, offset, 6, "metadata block header") then return nil, "" end
    local block_length = tvb(offset, 4):uint()
    local count = tvb(offset + 4, 2):uint()
    local block_end = offset + 6 + block_length
    local available = math.min(6 + block_length, tvb:len() - offset)
    local block = tree:add(tvb(offset, available), string.format("%s: %d %s", title, count,
        count == 1 and "entry" or "entries"))
    block:add(f.metadata_length, tvb(offset, 4))
    block:add(f.metadata_count, tvb(offset + 4, 2))
    if block_end > tvb:len() then
        block:add_proto_expert_info(e.malformed, "Metadata block length runs past the end of the payload")
        return nil, ""
    end
    offset = offset + 6
    local summary = {}
    for index = 1, count do
        if offset + 1 > block_end then
            block:add_proto_expert_info(e.malformed, string.format("Entry %d of %d is missing", index, count))
            return nil, table.concat(summary, " ")
        end
        local key_length = tvb(offset, 1):uint()
        if offset + 1 + key_length + 2 > block_end then
            block:add_proto_expert_info(e.malformed, string.format("Entry %d is truncated", index))
            return nil, table.concat(summary, " ")
        end
        local key = tvb(offset + 1, key_length):string()
        local value_length = tvb(offset + 1 + key_length, 2):uint()
        local entry_length = 1 + key_length + 2 + value_length
        if offset + entry_length > block_end then
            block:add_proto_expert_info(e.malformed, string.format("Entry %d's value is truncated", index))
            return nil, table.concat(summary, " ")
        end
        local value_range = tvb(offset + 3 + key_length, value_length)
        local binary = key:sub(-4) == "-bin"
        local shown = binary and (value_length == 0 and "<empty>" or tostring(value_range:bytes()):lower())
            or printable(value_range)
        local entry = block:add(tvb(offset, entry_length), string.format("%s: %s", key, shown))
        entry:add(f.metadata_key_length, tvb(offset, 1))
        entry:add(f.metadata_key, tvb(offset + 1, key_length))
        entry:add(f.metadata_value_length, tvb(offset + 1 + key_length, 2))
        if binary then
            entry:add(f.metadata_value_bin, value_range)
        else
            entry:add(f.metadata_value, value_range)
        end
        summary[#summary + 1] = string.format("%s=%s", key, shown)
        offset = offset + entry_length
    end
    if offset ~= block_end then
        block:add_proto_expert_info(e.malformed, string.format("%d bytes left in the block after the last entry",
            block_end - offset))
        return nil, table.concat(summary, " ")
    end
    return offset, table.concat(summary, " ")
end

local function check_end(tree, tvb, offset)
    if offset ~= nil and offset < tvb:len() then
        tree:add_proto_expert_info(e.malformed, string.format("%d bytes after the end of the frame's fields",
            tvb:len() - offset))
    end
end

local payload_dissectors = {}

payload_dissectors[0x0] = function(tvb, tree)
    if tvb:len() % 6 ~= 0 or tvb:len() > 192 then
        tree:add_proto_expert_info(e.malformed, "A SETTINGS payload is a multiple of 6 bytes, at most 192")
    end
    local parts = {}
    for offset = 0, tvb:len() - 6, 6 do
        local id = tvb(offset, 2):uint()
        local value = tvb(offset + 2, 4):uint()
        local name = setting_ids[id] or string.format("unknown 0x%x", id)
        local entry = tree:add(tvb(offset, 6), string.format("%s = %u", name, value))
        entry:add(f.setting, tvb(offset, 2))
        entry:add(f.setting_value, tvb(offset + 2, 4))
        parts[#parts + 1] = string.format("%s=%u", name, value)
    end
    return table.concat(parts, " ")
end

payload_dissectors[0x1] = function(tvb, tree, flags)
    local offset = 0
    local summary = {}
    if bit.band(flags, 0x01) ~= 0 then
        if not need(tree, tvb, 0, 16, "budget fields") then return "" end
        local remaining = tvb(0, 8):int64()
        local original = tvb(8, 8):int64()
        tree:add(f.remaining, tvb(0, 8)):set_text(string.format("Remaining budget: %s (%s µs)", ms_text(remaining),
            tostring(remaining)))
        tree:add(f.remaining_ms, tvb(0, 8), remaining:tonumber() / 1000):set_generated()
        tree:add(f.original, tvb(8, 8)):set_text(string.format("Original budget: %s (%s µs)%s", ms_text(original),
            tostring(original), original <= Int64(0) and ", unknown" or ""))
        tree:add(f.original_ms, tvb(8, 8), original:tonumber() / 1000):set_generated()
        if original > Int64(0) then
            local used = original - remaining
            tree:add(f.used_ms, tvb(0, 16), used:tonumber() / 1000):set_text(
                string.format("Budget used above this hop: %s", ms_text(used))):set_generated()
        end
        summary[#summary + 1] = "budget=" .. ms_text(remaining):gsub(" ", "")
        offset = 16
    else
        summary[#summary + 1] = "no deadline"
    end
    if not need(tree, tvb, offset, 4, "hop count, encoding and method length") then return "" end
    tree:add(f.hop_count, tvb(offset, 1))
    tree:add(f.encoding, tvb(offset + 1, 1))
    local method_length = tvb(offset + 2, 2):uint()
    tree:add(f.method_length, tvb(offset + 2, 2))
    offset = offset + 4
    if not need(tree, tvb, offset, method_length, "method") then return "" end
    local method = method_length > 0 and tvb(offset, method_length):string() or ""
    tree:add(f.method, tvb(offset, method_length))
    offset = offset + method_length
    table.insert(summary, 1, method)
    local after, metadata = dissect_metadata(tvb, tree, offset, "Request metadata")
    check_end(tree, tvb, after)
    if metadata ~= "" then summary[#summary + 1] = metadata end
    return table.concat(summary, " ")
end

local function dissect_message(tvb, tree, flags, first)
    local offset = 0
    local summary = {}
    if first then
        if not need(tree, tvb, 0, 4, "message length") then return "" end
        tree:add(f.message_length, tvb(0, 4))
        summary[#summary + 1] = string.format("len=%u", tvb(0, 4):uint())
        offset = 4
    end
    local chunk_length = tvb:len() - offset
    tree:add(f.chunk_length, tvb(offset, chunk_length), chunk_length):set_generated()
    if chunk_length > 0 then tree:add(f.chunk, tvb(offset, chunk_length)) end
    summary[#summary + 1] = string.format("chunk=%d", chunk_length)
    if bit.band(flags, 0x03) == 0x03 then
        tree:add_proto_expert_info(e.malformed, "MORE and END_STREAM are never both set")
    end
    return table.concat(summary, " ")
end
payload_dissectors[0x2] = function(tvb, tree, flags) return dissect_message(tvb, tree, flags, true) end
payload_dissectors[0x3] = function(tvb, tree, flags) return dissect_message(tvb, tree, flags, false) end

payload_dissectors[0x4] = function(tvb, tree)
    if tvb:len() ~= 0 then tree:add_proto_expert_info(e.malformed, "A HALF_CLOSE payload is empty") end
    return ""
end

payload_dissectors[0x5] = function(tvb, tree)
    if not need(tree, tvb, 0, 3, "status and message length") then return "" end
    local code = tvb(0, 1):uint()
    tree:add(f.status, tvb(0, 1)):set_text(string.format("Status: %s (%d)", status_name(code), code))
    tree:add(f.status_name, tvb(0, 1), status_name(code)):set_generated()
    if status_codes[code] == nil then tree:add_proto_expert_info(e.undefined_code, "Undefined status code") end
    local message_length = tvb(1, 2):uint()
    tree:add(f.status_message_length, tvb(1, 2))
    if not need(tree, tvb, 3, message_length, "status message") then return "" end
    local summary = { status_name(code) }
    if message_length > 0 then
        local range = tvb(3, message_length)
        tree:add(f.status_message, range, range:string(ENC_UTF_8))
        summary[#summary + 1] = string.format("%q", range:string(ENC_UTF_8))
    else
        tree:add(f.status_message, tvb(3, 0), "")
    end
    local after, metadata = dissect_metadata(tvb, tree, 3 + message_length, "Trailing metadata")
    check_end(tree, tvb, after)
    if metadata ~= "" then summary[#summary + 1] = metadata end
    return table.concat(summary, " ")
end

payload_dissectors[0x6] = function(tvb, tree)
    if tvb:len() ~= 1 then
        tree:add_proto_expert_info(e.malformed, "A CANCEL payload is exactly 1 byte")
        if tvb:len() < 1 then return "" end
    end
    local reason = tvb(0, 1):uint()
    tree:add(f.cancel_reason, tvb(0, 1)):set_text(string.format("Reason: %s (%d)", reason_name(reason), reason))
    tree:add(f.cancel_reason_name, tvb(0, 1), reason_name(reason)):set_generated()
    if cancel_reasons[reason] == nil then tree:add_proto_expert_info(e.undefined_code, "Undefined cancel reason") end
    return reason_name(reason)
end

payload_dissectors[0x7] = function(tvb, tree)
    if tvb:len() ~= 4 then
        tree:add_proto_expert_info(e.malformed, "A CREDIT payload is exactly 4 bytes")
        if tvb:len() < 4 then return "" end
    end
    tree:add(f.credit, tvb(0, 4))
    return string.format("+%u", tvb(0, 4):uint())
end

payload_dissectors[0x8] = function(tvb, tree)
    if tvb:len() ~= 8 then
        tree:add_proto_expert_info(e.malformed, "A PING payload is exactly 8 bytes")
        if tvb:len() < 8 then return "" end
    end
    tree:add(f.ping_data, tvb(0, 8))
    return "data=0x" .. tvb(0, 8):uint64():tohex():lower()
end

payload_dissectors[0x9] = function(tvb, tree)
    if not need(tree, tvb, 0, 10, "GOAWAY fields") then return "" end
    tree:add(f.goaway_last_stream_id, tvb(0, 4))
    local code = tvb(4, 4):uint()
    tree:add(f.goaway_code, tvb(4, 4)):set_text(string.format("Code: %s (%u)", goaway_name(code), code))
    tree:add(f.goaway_code_name, tvb(4, 4), goaway_name(code)):set_generated()
    if goaway_codes[code] == nil then tree:add_proto_expert_info(e.undefined_code, "Undefined GOAWAY code") end
    local reason_length = tvb(8, 2):uint()
    tree:add(f.goaway_reason_length, tvb(8, 2))
    if 10 + reason_length ~= tvb:len() then
        tree:add_proto_expert_info(e.malformed, "The reason length does not match the rest of the payload")
    end
    local available = math.min(reason_length, tvb:len() - 10)
    local reason = available > 0 and tvb(10, available):string(ENC_UTF_8) or ""
    tree:add(f.goaway_reason, tvb(10, available), reason)
    return string.format("%s last=%u %q", goaway_name(code), bit.band(tvb(0, 4):uint(), 0x7fffffff), reason)
end

-- Flag bits each type defines; the rest are undefined (§4).
local defined_flags = {
    [0x1] = { f.flag_has_deadline }, [0x2] = { f.flag_end_stream, f.flag_more, f.flag_compressed },
    [0x3] = { f.flag_end_stream, f.flag_more }, [0x8] = { f.flag_ack },
}
local defined_mask = { [0x1] = 0x01, [0x2] = 0x07, [0x3] = 0x03, [0x8] = 0x01 }
local flag_names = {
    [0x1] = { [0x01] = "HAS_DEADLINE" }, [0x2] = { [0x01] = "END_STREAM", [0x02] = "MORE", [0x04] = "COMPRESSED" },
    [0x3] = { [0x01] = "END_STREAM", [0x02] = "MORE" }, [0x8] = { [0x01] = "ACK" },
}

local function dissect_preface(tvb, pinfo, root)
    local tree = root:add(drpc, tvb(), "DeadlineRPC Preface")
    tree:add(f.preface_magic, tvb(0, 4))
    local version = tvb(4, 2):uint()
    tree:add(f.preface_version, tvb(4, 2))
    tree:add(f.preface_terminator, tvb(6, 2))
    if tvb(6, 2):uint() ~= 0x0d0a then tree:add_proto_expert_info(e.bad_preface, "The terminator is not CR LF") end
    return string.format("Preface v%d", version)
end

local function dissect_frame(tvb, pinfo, root)
    local length = tvb(0, 4):uint()
    local type = tvb(4, 1):uint()
    local flags = tvb(5, 1):uint()
    local stream_id = bit.band(tvb(6, 4):uint(), 0x7fffffff)
    local name = frame_types[type] or string.format("UNKNOWN(0x%02x)", type)
    local tree = root:add(drpc, tvb(), string.format("DeadlineRPC %s, stream %u", name, stream_id))
    local header = tree:add(tvb(0, HEADER_LENGTH), "Header")
    header:add(f.length, tvb(0, 4))
    header:add(f.type, tvb(4, 1))
    local flags_item = header:add(f.flags, tvb(5, 1))
    local set = {}
    for _, field in ipairs(defined_flags[type] or {}) do flags_item:add(field, tvb(5, 1)) end
    for bit_value, flag_name in pairs(flag_names[type] or {}) do
        if bit.band(flags, bit_value) ~= 0 then set[#set + 1] = { bit_value, flag_name } end
    end
    table.sort(set, function(a, b) return a[1] < b[1] end)
    local undefined = bit.band(flags, bit.bnot(defined_mask[type] or 0x00))
    if undefined ~= 0 then
        flags_item:add(f.flag_undefined, tvb(5, 1), undefined)
        flags_item:add_proto_expert_info(e.undefined_flags)
    end
    header:add(f.reserved, tvb(6, 4))
    header:add(f.stream_id, tvb(6, 4))
    if bit.band(tvb(6, 4):uint(), 0x80000000) ~= 0 then header:add_proto_expert_info(e.reserved_bit) end

    local payload = tvb(HEADER_LENGTH, length):tvb()
    local details = ""
    local dissect_payload = payload_dissectors[type]
    if dissect_payload == nil then
        if length > 0 then tree:add(f.payload, tvb(HEADER_LENGTH, length)) end
        tree:add_proto_expert_info(e.unknown_type)
    else
        details = dissect_payload(payload, tree, flags)
    end

    local names = {}
    for _, entry in ipairs(set) do names[#names + 1] = entry[2] end
    local text = string.format("%s[%u]", name, stream_id)
    if #names > 0 then text = text .. " " .. table.concat(names, "|") end
    if details ~= "" then text = text .. " " .. details end
    tree:append_text(#names > 0 and (", " .. table.concat(names, "|")) or "")
    return text
end

-- Length of the PDU at `offset`, or nil and how many more bytes are needed to know it; false when the bytes
-- there cannot be a frame at all.
local function pdu_length(tvb, offset)
    local remaining = tvb:len() - offset
    if remaining < 4 then return nil, DESEGMENT_ONE_MORE_SEGMENT end
    -- A frame starting "DRPC" would declare a 1.1 GB payload, above any maxFrameSize: so these bytes are a
    -- preface, never a frame header.
    if tvb(offset, 4):string() == "DRPC" then return PREFACE_LENGTH end
    if remaining < HEADER_LENGTH then return nil, DESEGMENT_ONE_MORE_SEGMENT end
    local length = tvb(offset, 4):uint()
    if length > MAX_FRAME_PAYLOAD then return false end
    return HEADER_LENGTH + length
end

function drpc.dissector(tvb, pinfo, root)
    local total = tvb:len()
    local offset = 0
    local summaries = {}
    while offset < total do
        local length, more = pdu_length(tvb, offset)
        if length == false then
            local tree = root:add(drpc, tvb(offset), "DeadlineRPC (not a frame)")
            tree:add(f.length, tvb(offset, 4))
            tree:add_proto_expert_info(e.too_large, string.format("Declared payload length %u exceeds %u",
                tvb(offset, 4):uint(), MAX_FRAME_PAYLOAD))
            summaries[#summaries + 1] = "not a frame"
            offset = total
            break
        end
        if length == nil or offset + length > total then
            pinfo.desegment_offset = offset
            pinfo.desegment_len = length == nil and more or (offset + length - total)
            break
        end
        local pdu = tvb(offset, length):tvb()
        if length == PREFACE_LENGTH and pdu(0, 4):string() == "DRPC" then
            summaries[#summaries + 1] = dissect_preface(pdu, pinfo, root)
        else
            summaries[#summaries + 1] = dissect_frame(pdu, pinfo, root)
        end
        offset = offset + length
    end
    if #summaries > 0 then
        -- TCP fences the Info column between the calls it makes for one packet (a reassembled frame, then the
        -- rest of the segment): the later calls append to what the earlier ones wrote.
        local text = table.concat(summaries, ", ")
        if tostring(pinfo.cols.protocol) == "DRPC" then
            pinfo.cols.info:append(", " .. text)
        else
            pinfo.cols.protocol = "DRPC"
            pinfo.cols.info:set(text)
        end
    end
    return total
end

-- A connection whose first bytes are the preface is DeadlineRPC, whatever its port; the rest of the
-- conversation then comes straight here. A peer may write its preface in pieces, so a first segment shorter than
-- the preface is taken when its bytes are the preface's start (two bytes at least, so a lone "D" is not enough);
-- the dissector then reassembles the rest.
local function heuristic(tvb, pinfo, root)
    local length = tvb:len()
    if length < 2 then return false end
    local magic = math.min(length, 4)
    if tvb(0, magic):string() ~= string.sub("DRPC", 1, magic) then return false end
    if length >= PREFACE_LENGTH and tvb(6, 2):uint() ~= 0x0d0a then return false end
    pinfo.conversation = drpc
    drpc.dissector(tvb, pinfo, root)
    return true
end
drpc:register_heuristic("tcp", heuristic)

local registered_port = 0
function drpc.prefs_changed()
    local tcp_port = DissectorTable.get("tcp.port")
    if registered_port ~= 0 then tcp_port:remove(registered_port, drpc) end
    registered_port = drpc.prefs.port
    if registered_port ~= 0 then tcp_port:add(registered_port, drpc) end
end
