import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers
import Logging
import NIOCore
import NIOSSL
import X509

/// A certificate or key file that cannot be used; the message names the zoo.cfg key and the path.
public struct TLSSetupError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Builds NIOSSL contexts from the `ssl.*` / `ssl.quorum.*` settings. Every file is read at start-up,
/// so a missing file, an empty PEM, a wrong password or a key that does not match its certificate
/// stops the server with a message naming the key and the path.
enum TLSContexts {
    /// A certificate's subject in RFC 4514 form, most specific part first (`CN=admin,O=example`), the
    /// id an `x509` ACL names; nil when the certificate cannot be parsed.
    static func subjectName(_ certificate: NIOSSLCertificate) -> String? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { return nil }
        return String(describing: parsed.subject)
    }

    struct Material {
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
        var trustRoots: [NIOSSLCertificate]?
    }

    /// `prefix` is `ssl.` or `ssl.quorum.`, for messages.
    static func load(_ s: TLSSettings, prefix: String) throws -> Material {
        guard let keyPath = s.keyStoreLocation else {
            throw TLSSetupError(message: "\(prefix)keyStore.location is not set")
        }
        let keyKey = "\(prefix)keyStore.location"
        try checkReadable(keyPath, key: keyKey)
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(keyPath) } catch {
            throw TLSSetupError(message: "\(keyKey): '\(keyPath)' is not a PEM file with a certificate chain: \(error)")
        }
        guard !chain.isEmpty else {
            throw TLSSetupError(message: "\(keyKey): '\(keyPath)' holds no certificate (expected the private key and the certificate chain in PEM form)")
        }
        let password = Array(s.keyStorePassword.utf8)
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem) { setter in setter(password) }
        } catch {
            let hint = password.isEmpty
                ? "no private key found, or it is encrypted and \(prefix)keyStore.password is empty"
                : "no private key found, or \(prefix)keyStore.password does not decrypt it"
            throw TLSSetupError(message: "\(keyKey): '\(keyPath)': \(hint)")
        }
        var trust: [NIOSSLCertificate]?
        if let trustPath = s.trustStoreLocation {
            let trustKey = "\(prefix)trustStore.location"
            try checkReadable(trustPath, key: trustKey)
            let certs = (try? NIOSSLCertificate.fromPEMFile(trustPath)) ?? []
            guard !certs.isEmpty else {
                throw TLSSetupError(message: "\(trustKey): '\(trustPath)' holds no PEM certificate (expected the CA bundle)")
            }
            trust = certs
        }
        return Material(chain: chain, key: key, trustRoots: trust)
    }

    static func checkReadable(_ path: String, key: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw TLSSetupError(message: "\(key): '\(path)' does not exist")
        }
        guard st.st_mode & S_IFMT != S_IFDIR, access(path, R_OK) == 0 else {
            throw TLSSetupError(message: "\(key): '\(path)' is not a readable file")
        }
    }

    static func apply(_ s: TLSSettings, _ m: Material, to config: inout TLSConfiguration) {
        if let roots = m.trustRoots { config.trustRoots = .certificates(roots) }
        config.minimumTLSVersion = s.minimumVersion == .tls12 ? .tlsv12 : .tlsv13
        config.maximumTLSVersion = s.maximumVersion == .tls12 ? .tlsv12 : .tlsv13
    }

    /// The listening side: the secure client port, or a member accepting peer connections.
    static func server(_ s: TLSSettings, prefix: String) throws -> NIOSSLContext {
        let m = try load(s, prefix: prefix)
        var config = TLSConfiguration.makeServerConfiguration(
            certificateChain: m.chain.map { .certificate($0) }, privateKey: .privateKey(m.key))
        apply(s, m, to: &config)
        switch s.clientAuth {
        case .none: config.certificateVerification = .none
        case .want: config.certificateVerification = .optionalVerification
        case .need: config.certificateVerification = .noHostnameVerification
        }
        return try context(config, prefix: prefix, s)
    }

    /// The connecting side of a peer link: presents this member's certificate, checks the peer's.
    static func client(_ s: TLSSettings, prefix: String) throws -> NIOSSLContext {
        let m = try load(s, prefix: prefix)
        var config = TLSConfiguration.makeClientConfiguration()
        config.certificateChain = m.chain.map { .certificate($0) }
        config.privateKey = .privateKey(m.key)
        apply(s, m, to: &config)
        config.certificateVerification = s.hostnameVerification ? .fullVerification : .noHostnameVerification
        return try context(config, prefix: prefix, s)
    }

    static func context(_ config: TLSConfiguration, prefix: String, _ s: TLSSettings) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: config)
        } catch {
            throw TLSSetupError(message: "\(prefix)keyStore.location: '\(s.keyStoreLocation ?? "")' cannot be used "
                + "(does the private key match the first certificate?): \(error)")
        }
    }
}

/// Logs why TLS clients are refused on the secure client port (no certificate, an untrusted one,
/// a plain-text client): at most one line per 10 s, with the count of the others.
final class TLSRefusalLog: @unchecked Sendable {
    let logger: Logger
    private let lock = NIOLock()
    private var lastLogged = NIODeadline.uptimeNanoseconds(0)
    private var suppressed = 0

    init(logger: Logger) { self.logger = logger }

    func refused(_ remote: String, _ error: Error) {
        let now = NIODeadline.now()
        let line: String? = lock.withLock {
            guard lastLogged == .uptimeNanoseconds(0) || now - lastLogged >= .seconds(10) else { suppressed += 1; return nil }
            let more = suppressed > 0 ? " (\(suppressed) more since the last line)" : ""
            lastLogged = now
            suppressed = 0
            return "refused TLS client \(remote): \(error)\(more)"
        }
        if let line { logger.info("\(line)") }
    }
}

/// Sits after the TLS handler: reports handshake failures, then passes the error on.
final class TLSRefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let log: TLSRefusalLog
    init(log: TLSRefusalLog) { self.log = log }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A client that hangs up without close_notify is not refused; everything else TLS raises is.
        var unclean = false
        if case .uncleanShutdown? = error as? NIOSSLError { unclean = true }
        if !unclean && (error is NIOSSLError || error is BoringSSLError) {
            log.refused(context.channel.remoteAddress.map { "\($0)" } ?? "?", error)
        }
        context.fireErrorCaught(error)
    }
}
