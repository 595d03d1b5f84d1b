import CCurl
import Foundation

/// `application/x-www-form-urlencoded` bodies, escaped by libcurl.
public enum HTTPFormEncoding {
  /// The content type to send with a body built by ``encode(_:)``.
  public static let contentType = "application/x-www-form-urlencoded"

  /// Percent-encodes every byte of `text` except the RFC 3986 unreserved characters
  /// (`curl_easy_escape`). Embedded NUL bytes are encoded too.
  public static func escape(_ text: String) -> String {
    var bytes = Array(text.utf8)
    if bytes.isEmpty { return "" }
    let count = Int32(clamping: bytes.count)
    let escaped = bytes.withUnsafeMutableBufferPointer { buffer -> String? in
      buffer.baseAddress.flatMap { base in
        base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { chars in
          guard let result = curl_easy_escape(nil, chars, count) else { return nil }
          defer { curl_free(result) }
          return String(cString: result)
        }
      }
    }
    // curl_easy_escape fails only when out of memory; fall back to Foundation.
    return escaped ?? text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
  }

  /// Builds `name=value&name=value` with every name and value escaped, in order.
  public static func encode(_ fields: [(name: String, value: String)]) -> String {
    fields.map { "\(escape($0.name))=\(escape($0.value))" }.joined(separator: "&")
  }
}
