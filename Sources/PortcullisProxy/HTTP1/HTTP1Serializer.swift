import NIOCore

/// Writes HTTP/1.1 heads and chunked framing (RFC 9112 §3, §4, §5 and §7.1).
///
/// Whatever the caller passes, the output stays well framed: a field whose name is not a token is dropped, and CR,
/// LF, NUL and other controls in values, targets and reasons become SP, so no input can split a message
/// (CWE-113, HARDENING.md §B8 row 3).
public enum HTTP1Serializer {
    public static func writeRequestHead(
        method: String, target: String, headers: HTTPHeaderList, into buffer: inout ByteBuffer
    ) {
        Self.writeSanitized(method, into: &buffer)
        buffer.writeInteger(HTTP1Byte.sp)
        Self.writeSanitized(target, into: &buffer)
        buffer.writeStaticString(" HTTP/1.1\r\n")
        Self.writeFields(headers, into: &buffer)
    }

    /// Writes an HTTP/1.1 status line with the standard reason phrase when `reason` is nil.
    public static func writeResponseHead(
        status: Int, reason: String?, headers: HTTPHeaderList, into buffer: inout ByteBuffer
    ) {
        buffer.writeStaticString("HTTP/1.1 ")
        let code = min(max(status, 100), 999)
        buffer.writeInteger(UInt8(0x30 + code / 100))
        buffer.writeInteger(UInt8(0x30 + code / 10 % 10))
        buffer.writeInteger(UInt8(0x30 + code % 10))
        buffer.writeInteger(HTTP1Byte.sp)
        Self.writeSanitized(reason ?? Self.reasonPhrase(status), into: &buffer)
        buffer.writeStaticString("\r\n")
        Self.writeFields(headers, into: &buffer)
    }

    /// chunk = chunk-size CRLF chunk-data CRLF (RFC 9112 §7.1). Empty data writes nothing: a zero size would end
    /// the body.
    public static func writeChunk(_ data: ByteBuffer, into buffer: inout ByteBuffer) {
        let size = data.readableBytes
        guard size > 0 else { return }
        Self.writeHex(size, into: &buffer)
        buffer.writeStaticString("\r\n")
        buffer.writeImmutableBuffer(data)
        buffer.writeStaticString("\r\n")
    }

    /// last-chunk, the trailer section and the final CRLF (RFC 9112 §7.1.2).
    public static func writeLastChunk(trailers: HTTPHeaderList?, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("0\r\n")
        Self.writeFields(trailers ?? HTTPHeaderList(), into: &buffer)
    }

    /// The field lines and the empty line that ends a head or trailer section.
    ///
    /// Works on each string's contiguous UTF-8 (`withUTF8`): one pass to check, one copy to write (profiles showed
    /// the generic `utf8` iteration among the serializer's top costs).
    private static func writeFields(_ headers: HTTPHeaderList, into buffer: inout ByteBuffer) {
        for field in headers {
            var name = field.name
            let valid = name.withUTF8 { bytes -> Bool in
                guard !bytes.isEmpty else { return false }
                for byte in bytes where !HTTP1Byte.isTChar(byte) { return false }
                buffer.writeBytes(bytes)
                return true
            }
            guard valid else { continue }
            buffer.writeStaticString(": ")
            Self.writeSanitized(field.value, into: &buffer)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// Writes `text`, replacing control bytes other than HTAB (and DEL) with SP.
    private static func writeSanitized(_ text: String, into buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { bytes in
            var clean = true
            for byte in bytes where !HTTP1Byte.isFieldValueByte(byte) {
                clean = false
                break
            }
            if clean {
                buffer.writeBytes(bytes)
                return
            }
            for byte in bytes {
                buffer.writeInteger(HTTP1Byte.isFieldValueByte(byte) ? byte : HTTP1Byte.sp)
            }
        }
    }

    private static func writeHex(_ value: Int, into buffer: inout ByteBuffer) {
        var shift = (Int.bitWidth - value.leadingZeroBitCount - 1) / 4 * 4
        while shift >= 0 {
            let nibble = UInt8((value >> shift) & 0xF)
            buffer.writeInteger(nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10)
            shift -= 4
        }
    }
}
