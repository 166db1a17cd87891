/// A tensor element type of the Open Inference Protocol (KServe V2), spelled as on the wire.
///
/// Binary tensor data (the binary data extension) is little-endian and row-major; `BOOL` is one
/// byte per element and `BYTES` is each element's 4-byte little-endian length followed by its bytes.
public enum OIPDatatype: String, Sendable, Hashable, CaseIterable {
    /// A boolean.
    case bool = "BOOL"
    /// Unsigned integers of 8, 16, 32 and 64 bits.
    case uint8 = "UINT8", uint16 = "UINT16", uint32 = "UINT32", uint64 = "UINT64"
    /// Signed integers of 8, 16, 32 and 64 bits.
    case int8 = "INT8", int16 = "INT16", int32 = "INT32", int64 = "INT64"
    /// IEEE floating point numbers of 16, 32 and 64 bits.
    case fp16 = "FP16", fp32 = "FP32", fp64 = "FP64"
    /// Byte strings (text is UTF-8).
    case bytes = "BYTES"

    /// The bytes one element takes in binary tensor data, or `nil` for `BYTES` (variable).
    public var elementSize: Int? {
        switch self {
        case .bool, .uint8, .int8: return 1
        case .uint16, .int16, .fp16: return 2
        case .uint32, .int32, .fp32: return 4
        case .uint64, .int64, .fp64: return 8
        case .bytes: return nil
        }
    }

    /// Whether elements are signed integers.
    public var isSignedInteger: Bool { [.int8, .int16, .int32, .int64].contains(self) }
    /// Whether elements are unsigned integers.
    public var isUnsignedInteger: Bool { [.uint8, .uint16, .uint32, .uint64].contains(self) }
    /// Whether elements are floating point numbers.
    public var isFloatingPoint: Bool { [.fp16, .fp32, .fp64].contains(self) }
}
