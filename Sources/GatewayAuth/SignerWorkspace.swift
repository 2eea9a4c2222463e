/// A worker's prepared signing state: per ECDSA signing key a
/// `PreparedECDSASigner`, per HMAC key (HS* signing keys, the jti key) an
/// `HMACContext`; made on first use and kept until `clear()` (after a key or
/// config reload).
///
/// NOT thread-safe by design: one per worker, reached through that worker's
/// `ReissueCache`, used only on its thread, so the request path takes no lock.
public final class SignerWorkspace {
    /// Linear: a gateway signs with one or two keys. Entries retain their
    /// keys, so an identity match can never hit a freed key's reused address.
    private var signers: [(key: SigningKey, prepared: PreparedECDSASigner?)] = []
    private var macs: [(key: HMACKey, context: HMACContext?)] = []
    /// Bound on prepared keys of each kind; past it, signing is unprepared.
    static let maxKeys = 16

    /// Where a reissued token's claims are serialized
    /// (`ReissuedClaimsWriter`): kept with its capacity between tokens.
    var claimsScratch: [UInt8] = []

    public init() { claimsScratch.reserveCapacity(JWSToken.maxLength) }

    /// The prepared ECDSA signer for `key`, or nil for other algorithms,
    /// when OpenSSL refused the setup, or past the bound.
    func ecdsa(for key: SigningKey) -> PreparedECDSASigner? {
        for entry in signers where entry.key === key { return entry.prepared }
        guard signers.count < Self.maxKeys else { return nil }
        let made = key.makePreparedECDSASigner()
        signers.append((key, made))
        return made
    }

    /// This worker's context for `key`, or nil past the bound or when OpenSSL
    /// cannot duplicate it.
    func mac(for key: HMACKey) -> HMACContext? {
        for entry in macs where entry.key === key { return entry.context }
        guard macs.count < Self.maxKeys else { return nil }
        let made = HMACContext(copying: key)
        macs.append((key, made))
        return made
    }

    /// Drops every prepared context (keys were replaced).
    public func clear() {
        signers.removeAll()
        macs.removeAll()
    }

    var count: Int { signers.count + macs.count }
}
