import CLibcrypto
import EstuaryWire

/// collectd's Sign and Encrypt primitives (HMAC-SHA-256, SHA-1, SHA-256, AES-256-OFB)
/// through OpenSSL's libcrypto. Stateless: one instance serves every thread.
public struct LibcryptoCollectdCryptography: CollectdCryptography {
    public init() {}

    public func sha256(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        digest.withUnsafeMutableBufferPointer { out in
            _ = SHA256(data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, out.baseAddress)
        }
        return digest
    }

    public func sha1(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        digest.withUnsafeMutableBufferPointer { out in
            _ = SHA1(data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, out.baseAddress)
        }
        return digest
    }

    public func hmacSHA256(key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        var length: UInt32 = 0
        mac.withUnsafeMutableBufferPointer { out in
            _ = HMAC(EVP_sha256(), key.baseAddress, Int32(key.count),
                     message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count, out.baseAddress, &length)
        }
        return mac
    }

    public func aes256OFB(key: UnsafeRawBufferPointer, iv: UnsafeRawBufferPointer,
                          input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) -> Bool {
        guard key.count == 32, iv.count == 16, output.count >= input.count else { return false }
        guard let context = EVP_CIPHER_CTX_new() else { return false }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_EncryptInit_ex(context, EVP_aes_256_ofb(), nil,
                                 key.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                 iv.baseAddress?.assumingMemoryBound(to: UInt8.self)) == 1 else { return false }
        if input.isEmpty { return true }
        var written: Int32 = 0
        guard EVP_EncryptUpdate(context, output.baseAddress?.assumingMemoryBound(to: UInt8.self), &written,
                                input.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(input.count)) == 1 else {
            return false
        }
        var tail: Int32 = 0
        guard EVP_EncryptFinal_ex(context, output.baseAddress!.assumingMemoryBound(to: UInt8.self) + Int(written), &tail) == 1 else {
            return false
        }
        return Int(written + tail) == input.count
    }
}
