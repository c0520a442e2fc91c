/// The filters of a `GraphiteTemplateSet`, as InfluxDB 1.x's matcher tree: one level per
/// dot-separated filter component, exact components and at most one `*` child per node.
///
/// Matching walks the path one component at a time and never backtracks: at each node an
/// exact child for the component is taken if there is one (even if nothing matches below
/// it), otherwise the `*` child, otherwise the walk stops. The template is the one of the
/// node where the walk stops (because the path or the tree ran out, or no child fits); a
/// node where no filter ends has none, and the default template is used. A `*` node, when
/// it is created, takes the template of its parent, so `a` listed before `a.*.c` also
/// covers `a.x` and `a.x.y` (InfluxDB's "prefer a more specific template over the default").
struct GraphiteFilterTree: Sendable {
    struct Node: Sendable {
        /// Index of the template of this node, or -1.
        var template: Int
        /// The exact children: `edges[firstEdge ..< firstEdge + edgeCount]`, sorted by key bytes.
        var firstEdge: Int
        var edgeCount: Int
        /// Index of the `*` child, or -1.
        var wildcard: Int
    }

    struct Edge: Sendable {
        /// The component: `keys[keyStart ..< keyStart + keyCount]`.
        var keyStart: Int
        var keyCount: Int
        var node: Int
    }

    /// `nodes[0]` is the root.
    let nodes: [Node]
    let edges: [Edge]
    let keys: [UInt8]

    /// The template index the filters select for `path`, or nil for the default template.
    func match(_ path: UnsafeRawBufferPointer) -> Int? {
        // Only the root: no filters at all.
        if nodes.count == 1 { return nil }
        return nodes.withUnsafeBufferPointer { nodes in
            edges.withUnsafeBufferPointer { edges in
                keys.withUnsafeBytes { keys in
                    Self.walk(path, nodes: nodes, edges: edges, keys: keys)
                }
            }
        }
    }

    private static func walk(_ path: UnsafeRawBufferPointer, nodes: UnsafeBufferPointer<Node>,
                             edges: UnsafeBufferPointer<Edge>, keys: UnsafeRawBufferPointer) -> Int? {
        var node = 0
        var start = 0
        var hasComponent = true
        let end = path.count
        while true {
            let current = nodes[node]
            if !hasComponent || (current.edgeCount == 0 && current.wildcard < 0) {
                return current.template >= 0 ? current.template : nil
            }
            var stop = start
            while stop < end && path[stop] != 0x2E { stop += 1 }
            let component = UnsafeRawBufferPointer(rebasing: path[start..<stop])

            // Binary search of the exact children.
            var child = -1
            var low = current.firstEdge
            var high = current.firstEdge + current.edgeCount
            while low < high {
                let middle = (low + high) / 2
                let edge = edges[middle]
                let order = compare(component, UnsafeRawBufferPointer(
                    rebasing: keys[edge.keyStart..<(edge.keyStart + edge.keyCount)]))
                if order == 0 { child = edge.node; break }
                if order < 0 { high = middle } else { low = middle + 1 }
            }

            if child >= 0 {
                node = child
            } else if current.wildcard >= 0 {
                node = current.wildcard
            } else {
                return current.template >= 0 ? current.template : nil
            }
            if stop == end {
                hasComponent = false
            } else {
                start = stop + 1
            }
        }
    }

    /// Byte-wise three-way comparison (Go's string order).
    @inline(__always)
    private static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let common = min(a.count, b.count)
        var i = 0
        while i < common {
            let x = a[i], y = b[i]
            if x != y { return x < y ? -1 : 1 }
            i += 1
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    /// Inserts filters in list order (the order matters for the `*` inheritance), then
    /// flattens the tree.
    struct Builder {
        private struct BuildNode {
            var key: [UInt8]
            var children: [Int] = []
            var template: Int = -1
        }

        private var nodes: [BuildNode] = [BuildNode(key: [])]

        mutating func insert(filter: Substring, template: Int) {
            var node = 0
            for component in filter.split(separator: ".", omittingEmptySubsequences: false) {
                let key = Array(component.utf8)
                if let existing = nodes[node].children.first(where: { nodes[$0].key == key }) {
                    node = existing
                    continue
                }
                var child = BuildNode(key: key)
                if key == [0x2A] { child.template = nodes[node].template }
                nodes.append(child)
                nodes[node].children.append(nodes.count - 1)
                node = nodes.count - 1
            }
            nodes[node].template = template
        }

        func build() -> GraphiteFilterTree {
            var flat: [Node] = []
            var edges: [Edge] = []
            var keys: [UInt8] = []
            flat.reserveCapacity(nodes.count)
            for node in nodes {
                var exact = node.children.filter { nodes[$0].key != [0x2A] }
                exact.sort { nodes[$0].key.lexicographicallyPrecedes(nodes[$1].key) }
                let wildcard = node.children.first { nodes[$0].key == [0x2A] } ?? -1
                flat.append(Node(template: node.template, firstEdge: edges.count,
                                 edgeCount: exact.count, wildcard: wildcard))
                for child in exact {
                    edges.append(Edge(keyStart: keys.count, keyCount: nodes[child].key.count, node: child))
                    keys.append(contentsOf: nodes[child].key)
                }
            }
            return GraphiteFilterTree(nodes: flat, edges: edges, keys: keys)
        }
    }
}
