import Foundation
import PortcullisXDSProto
import SwiftProtobuf
import Testing
import Yams

/// Proves that our own .proto definitions cover every field the project's configurations use: each Gateway,
/// VirtualService, DestinationRule, ServiceEntry and AuthorizationPolicy `spec` found in `config/**/*.yaml` and in the
/// YAML fixtures embedded in `Tests/**/*.swift` is decoded from JSON into the generated message (unknown fields are
/// errors) and encoded back, and the result must carry the same values.
///
/// Normalisations, applied identically to both sides before comparing (nothing else is forgiven):
/// - durations: Go-style strings (`1h30m`, `250ms`, what the YAML loader accepts) are rewritten to proto3 form before
///   decoding, and both sides compare durations as a number of seconds (`5s` == `5.000s`);
/// - numbers compare by value, and a 64-bit integer that proto3 JSON prints as a string compares equal to the number;
/// - proto3 JSON omits default values, so an input key absent from the output is accepted only when its value is a
///   proto3 default (false, 0, "", [], {}, or an enum's zero name from the list below); an output key absent from the
///   input is an error unless its value is such a default;
/// - booleans and numbers are both NSNumber after JSONSerialization and compare by value (the decoder has already
///   rejected a number given for a bool field, so this forgives nothing the wire format would keep);
/// - `bytes` fields compare after base64 decoding;
/// - an input key spelled as the proto field name (`consecutive_5xx_errors`) matches its JSON name in the output.
@Suite struct FixtureCompletenessTests {
    struct Spec {
        let kind: String
        let origin: String
        let spec: [String: Any]
    }

    /// Fixture files whose YAML is deliberately invalid: the diagnostic tests feed the loader bad field names and
    /// values, and CommandLineIntegrationTests checks the error for `timeout: 10q`.
    static let excludedFixtureFiles: Set<String> = ["DiagnosticTests.swift", "CommandLineIntegrationTests.swift"]

    static let kinds: Set<String> = ["Gateway", "VirtualService", "DestinationRule", "ServiceEntry", "AuthorizationPolicy"]

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test func everyConfigSpecRoundTripsThroughTheGeneratedMessages() throws {
        var specs: [Spec] = []
        var skippedBlocks = 0
        let root = Self.repositoryRoot
        let fm = FileManager.default
        for dir in ["config", "Tests"] {
            guard let e = fm.enumerator(at: root.appendingPathComponent(dir), includingPropertiesForKeys: nil) else {
                continue
            }
            for case let url as URL in e {
                let name = url.lastPathComponent
                if name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                    let text = try String(contentsOf: url, encoding: .utf8)
                    specs += Self.specs(inYAML: text, origin: url.path.replacingOccurrences(of: root.path + "/", with: ""))
                } else if name.hasSuffix(".swift"), !Self.excludedFixtureFiles.contains(name),
                    url.path.contains("/Tests/"), !url.path.contains("PortcullisXDSProtoTests")
                {
                    let text = try String(contentsOf: url, encoding: .utf8)
                    for (index, block) in Self.stringBlocks(inSwift: text).enumerated() {
                        guard let yaml = block else {
                            skippedBlocks += 1
                            continue
                        }
                        let origin = "\(url.lastPathComponent) literal #\(index)"
                        specs += Self.specs(inYAML: yaml, origin: origin)
                    }
                }
            }
        }
        let counts = Dictionary(grouping: specs, by: \.kind).mapValues(\.count)
        print("XDSProto completeness: \(specs.count) specs \(counts), \(skippedBlocks) interpolated literals skipped")
        #expect(counts["VirtualService", default: 0] > 10)
        #expect(counts["Gateway", default: 0] > 5)
        #expect(counts["DestinationRule", default: 0] > 0)
        #expect(counts["ServiceEntry", default: 0] > 0)

        var failures: [String] = []
        for spec in specs {
            if let problem = Self.roundTrip(spec) {
                failures.append("\(spec.origin) \(spec.kind): \(problem)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) specs do not round-trip:\n\(failures.joined(separator: "\n"))")
    }

    // MARK: - Round trip

    static func roundTrip(_ spec: Spec) -> String? {
        let input = normaliseDurationsForDecoding(spec.spec)
        do {
            let data = try JSONSerialization.data(withJSONObject: input, options: [.sortedKeys])
            var decoding = JSONDecodingOptions()
            decoding.ignoreUnknownFields = false
            let encoding = JSONEncodingOptions()
            let json: String
            switch spec.kind {
            case "Gateway":
                json = try Istio_Networking_V1alpha3_Gateway(jsonUTF8Data: data, options: decoding)
                    .jsonString(options: encoding)
            case "VirtualService":
                json = try Istio_Networking_V1alpha3_VirtualService(jsonUTF8Data: data, options: decoding)
                    .jsonString(options: encoding)
            case "DestinationRule":
                json = try Istio_Networking_V1alpha3_DestinationRule(jsonUTF8Data: data, options: decoding)
                    .jsonString(options: encoding)
            case "ServiceEntry":
                json = try Istio_Networking_V1alpha3_ServiceEntry(jsonUTF8Data: data, options: decoding)
                    .jsonString(options: encoding)
            case "AuthorizationPolicy":
                json = try Istio_Security_V1beta1_AuthorizationPolicy(jsonUTF8Data: data, options: decoding)
                    .jsonString(options: encoding)
            default:
                return "unexpected kind"
            }
            let output = try JSONSerialization.jsonObject(with: Data(json.utf8))
            return compare(input, output, path: "spec")
        } catch {
            return "decode failed: \(error)"
        }
    }

    /// Zero values of every enum in our protos, by JSON name: an output field absent from the input may carry these.
    static let enumZeroNames: Set<String> = [
        "PASSTHROUGH", "TLS_AUTO", "FROM_PROTOCOL_DEFAULT", "UNSPECIFIED", "V1", "DEFAULT", "DISABLE", "MESH_EXTERNAL",
        "NONE", "ALLOW", "REGISTRY_ONLY",
    ]

    /// protoc's JSON name of a proto field name (`consecutive_5xx_errors` -> `consecutive5xxErrors`); proto3 JSON
    /// parsers accept both spellings and print the JSON name.
    static func jsonName(_ key: String) -> String {
        var out = ""
        var upper = false
        for c in key {
            if c == "_" {
                upper = true
            } else {
                out.append(upper ? Character(c.uppercased()) : c)
                upper = false
            }
        }
        return out
    }

    static func isDefault(_ value: Any) -> Bool {
        switch value {
        case let b as Bool: return !b
        case let n as NSNumber: return n.doubleValue == 0
        case let s as String: return s.isEmpty || s == "0" || enumZeroNames.contains(s)
        case let a as [Any]: return a.isEmpty
        case let d as [String: Any]: return d.isEmpty
        default: return false
        }
    }

    static func compare(_ input: Any, _ output: Any, path: String) -> String? {
        if let a = input as? [String: Any] {
            guard let b = output as? [String: Any] else { return "\(path): object became \(output)" }
            for (key, value) in a {
                guard let other = b[key] ?? b[jsonName(key)] else {
                    if isDefault(value) { continue }  // proto3 JSON omits defaults
                    return "\(path).\(key): dropped (value \(value))"
                }
                if let problem = compare(value, other, path: "\(path).\(key)") { return problem }
            }
            let inputKeys = Set(a.keys.flatMap { [$0, jsonName($0)] })
            for (key, value) in b where !inputKeys.contains(key) && !isDefault(value) {
                return "\(path).\(key): appeared with non-default value \(value)"
            }
            return nil
        }
        if let a = input as? [Any] {
            guard let b = output as? [Any], a.count == b.count else { return "\(path): list became \(output)" }
            for (i, (x, y)) in zip(a, b).enumerated() {
                if let problem = compare(x, y, path: "\(path)[\(i)]") { return problem }
            }
            return nil
        }
        return scalarsEqual(input, output) ? nil : "\(path): \(input) became \(output)"
    }

    static func scalarsEqual(_ a: Any, _ b: Any) -> Bool {
        if let x = a as? NSNumber, let y = b as? NSNumber {
            return x.doubleValue == y.doubleValue
        }
        if let x = a as? Bool, let y = b as? Bool { return x == y }
        if let x = a as? String, let y = b as? String {
            if x == y { return true }
            if let dx = durationSeconds(x), let dy = durationSeconds(y) { return abs(dx - dy) < 1e-9 }
            if let bx = Data(base64Encoded: x), let by = Data(base64Encoded: y) { return bx == by }
            return false
        }
        // 64-bit integers are strings in proto3 JSON.
        if let x = a as? NSNumber, let y = b as? String { return Double(y) == x.doubleValue }
        if let x = a as? String, let y = b as? NSNumber { return Double(x) == y.doubleValue }
        return false
    }

    // MARK: - Durations

    static let goDurationUnits: [(String, Double)] = [
        ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
    ]

    /// Seconds of a Go-style (`1h30m`, `250ms`) or proto3 (`5.000s`) duration string, nil for anything else.
    static func durationSeconds(_ text: String) -> Double? {
        var rest = Substring(text)
        var total = 0.0
        var sawComponent = false
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard
                let unit = goDurationUnits.sorted(by: { $0.0.count > $1.0.count })
                    .first(where: { rest.hasPrefix($0.0) })
            else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
            sawComponent = true
        }
        return sawComponent ? total : nil
    }

    /// Rewrites Go-style duration strings that are not proto3 durations (`1h`, `250ms`) to proto3 form (`3600s`).
    static func normaliseDurationsForDecoding(_ value: Any) -> Any {
        switch value {
        case let d as [String: Any]: return d.mapValues { normaliseDurationsForDecoding($0) }
        case let a as [Any]: return a.map { normaliseDurationsForDecoding($0) }
        case let s as String:
            guard !s.hasSuffix("s") || s.hasSuffix("ms") || s.hasSuffix("us") || s.hasSuffix("ns") || s.contains("h")
                || s.contains("m")
            else { return s }
            guard let seconds = durationSeconds(s) else { return s }
            return String(format: "%.9fs", seconds)
        default: return value
        }
    }

    // MARK: - Fixture extraction

    static func specs(inYAML text: String, origin: String) -> [Spec] {
        guard text.contains("kind:") else { return [] }
        guard let documents = try? Yams.load_all(yaml: text) else { return [] }
        var out: [Spec] = []
        for document in documents {
            guard let object = document as? [String: Any], let kind = object["kind"] as? String, kinds.contains(kind),
                let spec = object["spec"] as? [String: Any],
                let apiVersion = object["apiVersion"] as? String, apiVersion.contains("istio.io")
            else { continue }
            out.append(Spec(kind: kind, origin: origin, spec: jsonCompatible(spec) as? [String: Any] ?? [:]))
        }
        return out
    }

    /// Converts what Yams produced into JSONSerialization-compatible values (keys to strings, dates back to text).
    static func jsonCompatible(_ value: Any) -> Any {
        switch value {
        case let d as [AnyHashable: Any]:
            var out: [String: Any] = [:]
            for (k, v) in d { out["\(k.base)"] = jsonCompatible(v) }
            return out
        case let a as [Any]: return a.map(jsonCompatible)
        case let i as Int: return NSNumber(value: i)
        case let d as Double: return NSNumber(value: d)
        case let b as Bool: return NSNumber(value: b)
        case let s as String: return s
        case is NSNull: return NSNull()
        default: return "\(value)"
        }
    }

    /// The contents of each multi-line string literal (`"""`) of a Swift file, with the closing delimiter's
    /// indentation removed and simple escapes resolved; nil for literals with interpolation (not static YAML).
    static func stringBlocks(inSwift text: String) -> [String?] {
        var blocks: [String?] = []
        let lines = text.components(separatedBy: "\n")
        var i = 0
        while i < lines.count {
            let line = lines[i]
            guard line.hasSuffix("\"\"\""), !line.trimmingCharacters(in: .whitespaces).hasPrefix("\"\"\""),
                !line.hasSuffix("#\"\"\"")
            else {
                i += 1
                continue
            }
            var body: [String] = []
            var j = i + 1
            while j < lines.count, !lines[j].trimmingCharacters(in: .whitespaces).hasPrefix("\"\"\"") {
                body.append(lines[j])
                j += 1
            }
            guard j < lines.count else { break }
            let indent = lines[j].prefix { $0 == " " }.count
            let text = body.map { String($0.dropFirst(min(indent, $0.prefix { $0 == " " }.count))) }
                .joined(separator: "\n")
            if text.contains("\\(") {
                blocks.append(nil)
            } else {
                blocks.append(
                    text.replacingOccurrences(of: "\\\\", with: "\u{0}")
                        .replacingOccurrences(of: "\\\"", with: "\"")
                        .replacingOccurrences(of: "\\t", with: "\t")
                        .replacingOccurrences(of: "\\n", with: "\n")
                        .replacingOccurrences(of: "\u{0}", with: "\\"))
            }
            i = j + 1
        }
        return blocks
    }
}
