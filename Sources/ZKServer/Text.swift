/// Small text helpers, so the server needs only the Swift standard library and FoundationEssentials
/// (no ICU-backed Foundation in its address space).
extension StringProtocol {
    /// Drops the given characters from both ends.
    public func trimmingCharacters(in set: String) -> String { trimmingCharacters(in: Set(set)) }

    public func trimmingCharacters(in chars: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }

    /// Drops spaces, tabs, carriage returns and newlines from both ends.
    public var trimmed: String {
        // Listed one by one: inside one literal "\r\n" would be a single Character.
        trimmingCharacters(in: [" ", "\t", "\r", "\n", "\r\n"])
    }
}

/// `value` with exactly `digits` decimals, rounded half away from zero ("%.Nf" for finite values).
public func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "NaN" : (value < 0 ? "-Infinity" : "Infinity") }
    var scale: Double = 1
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9.0e18 else { return String(value) }
    let n = UInt64(scaled), unit = UInt64(scale)
    var s = (value < 0 && n > 0 ? "-" : "") + String(n / unit)
    if digits > 0 {
        let frac = String(n % unit)
        s += "." + String(repeating: "0", count: digits - frac.count) + frac
    }
    return s
}

/// The directory part of a path ("." when it has none), as `dirname` gives it.
public func directoryOf(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}
