import Foundation

/// `Headers` operations (ISTIO-SEMANTICS §2.4).
struct HeadersDecoder {
    let ctx: DecodeContext

    func decode(_ f: Fields) -> Headers {
        let request = f.object("request") { self.operations($0, response: false) }
        let response = f.object("response") { self.operations($0, response: true) }
        f.finish()
        return Headers(request: request, response: response)
    }

    /// Request ops may set `host`/`:authority` but no other pseudo header; response ops touch neither.
    private func operations(_ f: Fields, response: Bool) -> HeaderOperations {
        var ops = HeaderOperations()
        for key in ["set", "add"] {
            guard let node = f.take(key), let map = Fields(node, path: f.child(key), ctx: self.ctx) else { continue }
            var values: [HeaderValue] = []
            for entry in map.allEntries() {
                let value = entry.value.isNull ? "" : (self.ctx.string(entry.value, entry.path) ?? "")
                self.checkName(entry.key, entry.path, response: response)
                values.append(HeaderValue(name: entry.key, value: value))
            }
            if key == "set" { ops.set = values } else { ops.add = values }
        }
        ops.remove = f.strings("remove")
        for (i, name) in ops.remove.enumerated() {
            let path = "\(f.child("remove"))[\(i)]"
            if name.hasPrefix(":") || name.lowercased() == "host" {
                self.ctx.error(path, "cannot remove pseudo header or host \"\(name)\"")
            }
        }
        f.finish()
        return ops
    }

    private func checkName(_ name: String, _ path: String, response: Bool) {
        let lower = name.lowercased()
        if name.isEmpty {
            self.ctx.error(path, "header name must not be empty")
        } else if response, lower == "host" || lower.hasPrefix(":") {
            self.ctx.error(path, "response headers cannot modify \"\(name)\"")
        } else if lower.hasPrefix(":"), lower != ":authority" {
            self.ctx.error(path, "pseudo header \"\(name)\" cannot be modified (only :authority)")
        }
    }

    /// How many request operations rewrite the authority (`host` or `:authority` in set/add).
    static func authorityRewrites(_ ops: HeaderOperations?) -> Int {
        guard let ops else { return 0 }
        return (ops.set + ops.add).filter { ["host", ":authority"].contains($0.name.lowercased()) }.count
    }
}

/// `HTTPRedirect` (§2.5).
struct RedirectDecoder {
    let ctx: DecodeContext

    func decode(_ f: Fields) -> HTTPRedirect {
        var r = HTTPRedirect()
        r.uri = f.string("uri")
        r.prefixRewrite = f.string("prefixRewrite")
        r.authority = f.string("authority")
        r.port = f.int("port")
        r.derivePort = f.enumValue("derivePort", RedirectPortSelection.self)
        r.scheme = f.string("scheme")
        r.redirectCode = f.int("redirectCode").flatMap { $0 == 0 ? nil : $0 }
        f.finish()
        if r.uri == nil, r.prefixRewrite == nil, r.authority == nil, r.scheme == nil, r.port == nil,
            r.derivePort == nil, !self.ctx.hasError(under: f.path) {
            self.ctx.error(f.path, "redirect must specify uri, prefixRewrite, authority, scheme or port", line: f.line)
        }
        if r.uri != nil, r.prefixRewrite != nil {
            self.ctx.error(f.child("prefixRewrite"), "only one of uri and prefixRewrite may be set")
        }
        if r.port != nil, r.derivePort != nil {
            self.ctx.error(f.child("derivePort"), "only one of port and derivePort may be set")
        }
        if let port = r.port, port < 1 || port > 65535 {
            self.ctx.error(f.child("port"), "port \(port) must be in the range 1..65535")
        }
        if let scheme = r.scheme, scheme != "http", scheme != "https" {
            self.ctx.error(f.child("scheme"), "scheme must be http or https, not \"\(scheme)\"")
        }
        if let code = r.redirectCode, code < 300 || code > 399 {
            self.ctx.error(f.child("redirectCode"), "redirect code \(code) must be a 3xx code")
        }
        return r
    }
}

/// `HTTPRetry` (§2.7.1).
struct RetriesDecoder {
    let ctx: DecodeContext
    static let policies: Set<String> = [
        "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx",
        "refused-stream", "retriable-status-codes", "retriable-headers", "envoy-ratelimited",
        "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal", "resource-exhausted",
        "unavailable",
    ]

    func decode(_ f: Fields) -> HTTPRetry {
        var retry = HTTPRetry(attempts: f.int("attempts") ?? 0)
        retry.perTryTimeout = f.duration("perTryTimeout")
        // proto3 semantics: an absent or empty `retryOn` is "not set" (nil), which later means Istio's default list.
        retry.retryOn = f.string("retryOn").flatMap { $0.isEmpty ? nil : $0 }
        retry.retryRemoteLocalities = f.bool("retryRemoteLocalities")
        f.finish(known: ["retryIgnorePreviousHosts", "backoff"])
        self.ctx.checkNonNegative(retry.attempts, f.child("attempts"))
        self.ctx.checkDuration(retry.perTryTimeout, f.child("perTryTimeout"))
        let configured = retry.perTryTimeout != nil || retry.retryOn != nil || retry.retryRemoteLocalities != nil
        if retry.attempts == 0, configured {
            self.ctx.error(f.child("attempts"), "http retry policy configured when attempts are set to 0 (disabled)",
                           line: f.line)
        }
        // Only a set `retryOn` is validated, as Istio's `validateHTTPRetry` does; empty items of a set list are errors.
        if let retryOn = retry.retryOn {
            for item in retryOn.split(separator: ",", omittingEmptySubsequences: false) {
                let policy = item.trimmingCharacters(in: .whitespaces)
                if Self.policies.contains(policy) { continue }
                if let code = Int(policy), code >= 100, code <= 599 { continue }
                self.ctx.error(f.child("retryOn"), "\"\(policy)\" is not a valid retryOn policy")
            }
        }
        return retry
    }
}

/// `HTTPFaultInjection` (§2.7.3).
struct FaultDecoder {
    let ctx: DecodeContext

    func decode(_ f: Fields) -> HTTPFaultInjection {
        let delay = f.object("delay") { d -> HTTPFaultInjection.Delay? in
            if d.take("exponentialDelay") != nil {
                self.ctx.error(d.child("exponentialDelay"), "exponentialDelay is not supported")
            }
            let fixed = d.require("fixedDelay").flatMap { self.ctx.duration($0, d.child("fixedDelay")) }
            self.ctx.checkDuration(fixed, d.child("fixedDelay"))
            let percentage = self.percentage(d)
            d.finish()
            return fixed.map { HTTPFaultInjection.Delay(fixedDelay: $0, percentage: percentage) }
        }
        let abort = f.object("abort") { a -> HTTPFaultInjection.Abort? in
            let status = a.int("httpStatus")
            let grpc = a.string("grpcStatus")
            let percentage = self.percentage(a)
            a.finish(known: ["http2Error"])
            if let status, status < 200 || status > 599 {
                self.ctx.error(a.child("httpStatus"), "httpStatus \(status) must be in the range 200..599")
            }
            if status != nil, grpc != nil {
                self.ctx.error(a.child("grpcStatus"), "only one of httpStatus and grpcStatus may be set")
            }
            if status == nil, grpc == nil, !self.ctx.hasError(under: a.path) {
                self.ctx.error(a.child("httpStatus"), "abort must set httpStatus or grpcStatus", line: a.line)
            }
            return HTTPFaultInjection.Abort(httpStatus: status, grpcStatus: grpc, percentage: percentage)
        }
        f.finish()
        if delay == nil, abort == nil, !self.ctx.hasError(under: f.path) {
            self.ctx.error(f.path, "fault must have at least one of delay or abort", line: f.line)
        }
        return HTTPFaultInjection(delay: delay, abort: abort)
    }

    /// `percentage: {value}` or the deprecated integer `percent`.
    private func percentage(_ f: Fields) -> Double? {
        var value = f.take("percentage").flatMap { self.ctx.percent($0, f.child("percentage")) }
        if let legacy = f.int("percent") {
            if value != nil { self.ctx.error(f.child("percent"), "only one of percent and percentage may be set") }
            value = Double(legacy)
        }
        self.ctx.checkPercent(value, f.child("percentage"))
        return value
    }
}

/// `CorsPolicy` (§2.7.4).
struct CorsDecoder {
    let ctx: DecodeContext

    func decode(_ f: Fields) -> CorsPolicy {
        var cors = CorsPolicy()
        let matcher = HTTPMatchDecoder(ctx: self.ctx)
        if let node = f.take("allowOrigins") {
            cors.allowOrigins = self.ctx.list(node, f.child("allowOrigins")).compactMap {
                matcher.stringMatch($0.node, $0.path, presence: false, emptyPrefix: false)
            }
        }
        cors.allowOrigins += f.strings("allowOrigin").map { .exact($0) }
        cors.allowMethods = f.strings("allowMethods")
        for (i, method) in cors.allowMethods.enumerated()
        where method.isEmpty || !method.allSatisfy({ $0.isUppercase || $0 == "-" || $0 == "_" }) {
            self.ctx.error("\(f.child("allowMethods"))[\(i)]", "\"\(method)\" is not a valid HTTP method")
        }
        cors.allowHeaders = f.strings("allowHeaders")
        cors.exposeHeaders = f.strings("exposeHeaders")
        cors.maxAge = f.duration("maxAge")
        self.ctx.checkDuration(cors.maxAge, f.child("maxAge"), allowZero: true)
        cors.allowCredentials = f.bool("allowCredentials")
        if let mode = f.string("unmatchedPreflights") {
            if mode == "FORWARD" || mode == "IGNORE" || mode == "UNSPECIFIED" {
                cors.unmatchedPreflights = mode == "UNSPECIFIED" ? nil : mode
            } else {
                self.ctx.error(f.child("unmatchedPreflights"), "invalid value \"\(mode)\"")
            }
        }
        f.finish()
        return cors
    }
}
