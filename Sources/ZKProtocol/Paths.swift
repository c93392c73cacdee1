/// Path rules of ZooKeeper (checked by the server on create and by clients before sending).
public enum PathValidation {
    /// nil when valid, else the reason.
    public static func problem(_ path: String) -> String? {
        if path.isEmpty { return "path must not be empty" }
        let scalars = Array(path.unicodeScalars)
        if scalars[0] != "/" { return "path must start with /" }
        if scalars.count == 1 { return nil }
        if scalars[scalars.count - 1] == "/" { return "path must not end with /" }
        var componentStart = 1
        for i in 1...scalars.count {
            if i == scalars.count || scalars[i] == "/" {
                let comp = scalars[componentStart..<i]
                if comp.isEmpty { return "empty node name at index \(i)" }
                if comp.count == 1 && comp.first == "." { return "relative path component . at index \(i)" }
                if comp.count == 2 && comp.allSatisfy({ $0 == "." }) { return "relative path component .. at index \(i)" }
                componentStart = i + 1
                continue
            }
            let v = scalars[i].value
            if v == 0 || (v >= 0x1 && v <= 0x1f) || (v >= 0x7f && v <= 0x9f) || (v >= 0xd800 && v <= 0xf8ff)
                || (v >= 0xfff0 && v <= 0xffff) {
                return "invalid character at index \(i)"
            }
        }
        return nil
    }
    public static func isValid(_ path: String) -> Bool { problem(path) == nil }

    /// Parent of a valid absolute path ("/" for top-level nodes).
    public static func parent(of path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "/" }
        if i == path.startIndex { return "/" }
        return String(path[..<i])
    }
    /// Last component of a path.
    public static func name(of path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: i)...])
    }
    public static func join(_ parent: String, _ child: String) -> String {
        parent == "/" ? "/" + child : parent + "/" + child
    }
}
