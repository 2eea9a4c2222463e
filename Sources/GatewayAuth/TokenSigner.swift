/// Builds compact JWS tokens (RFC 7515 §7.1) for minted and refreshed
/// tokens. Output is deterministic: the header is always
/// `{"alg":..,"kid":..,"typ":"JWT"}` in that order, claims serialise in
/// their insertion order, and every `SigningKey` signs deterministically, so
/// the same claims and key give byte-identical tokens on every instance.
public struct TokenSigner: Sendable {
    public let key: SigningKey
    /// base64url of the header plus the ".", the same for every token of
    /// this key: made once, not per token.
    private let encodedHeader: [UInt8]

    public init(key: SigningKey) {
        self.key = key
        var header = JSONObject()
        header["alg"] = .string(key.algorithm.name)
        if let kid = key.kid { header["kid"] = .string(kid) }
        header["typ"] = .string("JWT")
        var encoded = Base64URL.encode(JSONSerializer.serialize(header))
        encoded.append(UInt8(ascii: "."))
        encodedHeader = encoded
    }

    /// The compact token for `claims`, as ASCII bytes.
    public func sign(claims: JSONObject) throws(OpenSSLError) -> [UInt8] {
        try sign(claims: claims, workspace: nil)
    }

    /// As `sign(claims:)`, same bytes, with a worker's prepared signing
    /// state when given. Worker thread only.
    func sign(claims: JSONObject, workspace: SignerWorkspace?) throws(OpenSSLError) -> [UInt8] {
        let claimBytes = JSONSerializer.serialize(claims)
        let result: Result<[UInt8], OpenSSLError> = claimBytes.withUnsafeBytes { raw in
            do throws(OpenSSLError) { return .success(try sign(claimBytes: raw, workspace: workspace)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// As `sign(claims:workspace:)` for claims already serialized
    /// (`ReissuedClaimsWriter`): the same bytes for the same JSON.
    func sign(claimBytes: UnsafeRawBufferPointer, workspace: SignerWorkspace?) throws(OpenSSLError) -> [UInt8] {
        var token = [UInt8]()
        // One allocation: header, claims, dot and signature all fit.
        token.reserveCapacity(encodedHeader.count + (claimBytes.count * 4 + 2) / 3 + 1 + (key.maxSignatureBytes * 4 + 2) / 3)
        token.append(contentsOf: encodedHeader)
        Base64URL.encode(claimBytes, appendingTo: &token)
        let signature: [UInt8]
        if let workspace {
            let result: Result<[UInt8], OpenSSLError> = token.withUnsafeBytes { raw in
                do throws(OpenSSLError) { return .success(try key.sign(raw, workspace: workspace)) } catch { return .failure(error) }
            }
            signature = try result.get()
        } else {
            signature = try key.sign(token)
        }
        token.append(UInt8(ascii: "."))
        signature.withUnsafeBytes { Base64URL.encode($0, appendingTo: &token) }
        return token
    }

    public func signToString(claims: JSONObject) throws(OpenSSLError) -> String {
        String(decoding: try sign(claims: claims), as: UTF8.self)
    }
}
