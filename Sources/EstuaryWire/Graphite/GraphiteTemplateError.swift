/// Why a `templates = [...]` entry of a graphite input was refused when the configuration
/// was loaded. Every case names the entry by its position in the list (`index`, counting
/// from 0) and carries its text, so the message can point at the exact line to fix.
public enum GraphiteTemplateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The entry is empty or only whitespace.
    case emptyTemplate(index: Int, template: String)
    /// The entry has more than three whitespace-separated parts
    /// (the form is `[filter] template [tags]`).
    case tooManyParts(index: Int, template: String)
    /// The template part has neither a `measurement` nor a `measurement*` element.
    case missingMeasurement(index: Int, template: String)
    /// The template part uses the `field` element more than once.
    case repeatedField(index: Int, template: String)
    /// The template part uses both `measurement*` and `field*`.
    case greedyMeasurementAndField(index: Int, template: String)
    /// The filter has an empty component (`.cpu`, `cpu..load`, `cpu.`).
    case emptyFilterComponent(index: Int, template: String, filter: String)
    /// A filter component mixes `*` with other characters (`cpu*`); only a whole `*` is a wildcard.
    case partialWildcardInFilter(index: Int, template: String, filter: String)
    /// An extra tag is not `key=value` with a non-empty key and value (`k`, `k=`, `=v`, `k=v=w`,
    /// or an empty item from a stray comma).
    case invalidTag(index: Int, template: String, tag: String)
    /// Two entries have the same filter; `filter` is empty when both are default templates
    /// (entries without a filter). `firstIndex` is the position of the earlier entry.
    case duplicateFilter(index: Int, template: String, filter: String, firstIndex: Int)

    /// Position of the offending entry in the `templates` list, counting from 0.
    public var index: Int {
        switch self {
        case .emptyTemplate(let index, _), .tooManyParts(let index, _),
             .missingMeasurement(let index, _), .repeatedField(let index, _),
             .greedyMeasurementAndField(let index, _),
             .emptyFilterComponent(let index, _, _), .partialWildcardInFilter(let index, _, _),
             .invalidTag(let index, _, _), .duplicateFilter(let index, _, _, _):
            return index
        }
    }

    /// Text of the offending entry, as configured.
    public var template: String {
        switch self {
        case .emptyTemplate(_, let template), .tooManyParts(_, let template),
             .missingMeasurement(_, let template), .repeatedField(_, let template),
             .greedyMeasurementAndField(_, let template),
             .emptyFilterComponent(_, let template, _), .partialWildcardInFilter(_, let template, _),
             .invalidTag(_, let template, _), .duplicateFilter(_, let template, _, _):
            return template
        }
    }

    public var description: String {
        let prefix = "graphite templates[\(index)] \(template.debugDescription): "
        switch self {
        case .emptyTemplate:
            return prefix + "the entry is empty"
        case .tooManyParts:
            return prefix + "too many parts; the form is \"[filter] template [tag=value,...]\""
        case .missingMeasurement:
            return prefix + "the template has no \"measurement\" or \"measurement*\" element"
        case .repeatedField:
            return prefix + "\"field\" can be used only once in a template"
        case .greedyMeasurementAndField:
            return prefix + "\"measurement*\" and \"field*\" cannot be used together in a template"
        case .emptyFilterComponent(_, _, let filter):
            return prefix + "the filter \(filter.debugDescription) has an empty component"
        case .partialWildcardInFilter(_, _, let filter):
            return prefix + "the filter \(filter.debugDescription) has a component mixing \"*\" "
                + "with other characters; a wildcard must be a whole component"
        case .invalidTag(_, _, let tag):
            return prefix + "the extra tag \(tag.debugDescription) is not key=value"
        case .duplicateFilter(_, _, let filter, let firstIndex):
            if filter.isEmpty {
                return prefix + "a second default template (no filter); the first is templates[\(firstIndex)]"
            }
            return prefix + "the filter \(filter.debugDescription) is already used by templates[\(firstIndex)]"
        }
    }
}
