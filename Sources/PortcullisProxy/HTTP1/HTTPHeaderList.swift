/// Ordered header list preserving the received name spelling; lookups are ASCII case-insensitive.
///
/// Field names are case-insensitive (RFC 9110 §5.1) and order matters for repeated fields (RFC 9110 §5.3), so this
/// is a flat array rather than a dictionary: messages carry few fields and a linear scan beats hashing there.
public struct HTTPHeaderList: Sendable, Sequence {
    public typealias Element = (name: String, value: String)

    @usableFromInline
    var fields: [Element]

    public init() {
        self.fields = []
    }

    /// Builds a list from pairs, in order (convenient for tests and local replies).
    public init(_ pairs: [(String, String)]) {
        self.fields = pairs.map { (name: $0.0, value: $0.1) }
    }

    public var count: Int { self.fields.count }

    public subscript(index: Int) -> (name: String, value: String) { self.fields[index] }

    public func makeIterator() -> IndexingIterator<[Element]> {
        self.fields.makeIterator()
    }

    /// The first value of the field `name` (lower case is fastest; matching ignores case), or nil.
    public func first(_ name: String) -> String? {
        for field in self.fields where Self.equalsIgnoringCase(field.name, name) {
            return field.value
        }
        return nil
    }

    /// All values of `name` joined with "," in received order (RFC 9110 §5.3), or nil if absent.
    public func joined(_ name: String) -> String? {
        var result: String?
        for field in self.fields where Self.equalsIgnoringCase(field.name, name) {
            if result == nil {
                result = field.value
            } else {
                result! += "," + field.value
            }
        }
        return result
    }

    public func contains(_ name: String) -> Bool {
        self.fields.contains { Self.equalsIgnoringCase($0.name, name) }
    }

    public mutating func add(_ name: String, _ value: String) {
        self.fields.append((name: name, value: value))
    }

    /// Replaces every field called `name` with one field at the position of the first, or appends it.
    public mutating func set(_ name: String, _ value: String) {
        if let index = self.fields.firstIndex(where: { Self.equalsIgnoringCase($0.name, name) }) {
            self.fields[index] = (name: name, value: value)
            var next = index + 1
            while next < self.fields.count {
                if Self.equalsIgnoringCase(self.fields[next].name, name) {
                    self.fields.remove(at: next)
                } else {
                    next += 1
                }
            }
        } else {
            self.fields.append((name: name, value: value))
        }
    }

    public mutating func remove(_ name: String) {
        self.fields.removeAll { Self.equalsIgnoringCase($0.name, name) }
    }

    public mutating func removeAll(where shouldRemove: (String, String) -> Bool) {
        self.fields.removeAll { shouldRemove($0.name, $0.value) }
    }

    /// ASCII case-insensitive comparison of two field names (RFC 9110 §5.1). Lower-case arguments are the cheap
    /// common case, but any spelling works.
    @inlinable
    static func equalsIgnoringCase(_ stored: String, _ name: String) -> Bool {
        if stored.utf8.count != name.utf8.count { return false }
        var left = stored.utf8.makeIterator()
        var right = name.utf8.makeIterator()
        while let x = left.next(), let y = right.next() {
            if x != y && Self.fold(x) != Self.fold(y) { return false }
        }
        return true
    }

    @inlinable
    static func fold(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }
}

extension HTTPHeaderList: Equatable {
    public static func == (lhs: HTTPHeaderList, rhs: HTTPHeaderList) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}

extension HTTPHeaderList: CustomStringConvertible {
    public var description: String {
        "[" + self.fields.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
    }
}
