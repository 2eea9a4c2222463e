/// A value that is only ever touched on one event loop's thread, carried
/// through a `@Sendable` closure that runs there (a store completion posted
/// back to the loop that started the operation). The compiler cannot see
/// the loop discipline; this type is where the code says it.
public struct LoopConfined<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
