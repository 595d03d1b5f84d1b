extension Duration {
  /// The duration as a number of seconds (`Duration.milliseconds(1500)` is `1.5`): the one
  /// conversion from a measured or configured `Duration` to the seconds journals and reports carry.
  public var doubleSeconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) + Double(attoseconds) / 1e18
  }
}
