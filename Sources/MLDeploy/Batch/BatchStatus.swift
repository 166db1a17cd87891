/// The state of a batch execution. Wire spellings are ML Server's PascalCase (`"Complete"`).
///
/// A string-backed struct so that states a server invents still decode.
public struct BatchState: Hashable, Sendable, CustomStringConvertible {
    /// The wire spelling.
    public let rawValue: String

    /// A state from its wire spelling.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// The wire spelling.
    public var description: String { self.rawValue }

    /// Submitted, not yet scheduled.
    public static let pending = BatchState("Pending")
    /// Scheduled, about to run.
    public static let ready = BatchState("Ready")
    /// Running.
    public static let inProgress = BatchState("InProgress")
    /// Every record has a result (individual records may have failed; see their responses).
    public static let complete = BatchState("Complete")
    /// The execution itself failed.
    public static let failed = BatchState("Failed")

    /// Whether the execution has stopped (``complete`` or ``failed``; compared ignoring case, since
    /// servers disagree on spelling).
    public var isFinished: Bool {
        let lowered = self.rawValue.lowercased()
        return lowered == "complete" || lowered == "failed"
    }
}

/// A snapshot of a batch execution: its state, progress and the results so far.
public struct BatchStatus: Sendable, Hashable {
    /// The execution id.
    public var executionID: String
    /// The state.
    public var state: BatchState
    /// How many records have a result.
    public var completedItemCount: Int
    /// How many records there are.
    public var totalItemCount: Int
    /// The results so far, in record order; only records that finished appear (when results were
    /// requested).
    public var results: [BatchItem]

    /// Creates a status.
    public init(executionID: String, state: BatchState, completedItemCount: Int, totalItemCount: Int, results: [BatchItem] = []) {
        self.executionID = executionID
        self.state = state
        self.completedItemCount = completedItemCount
        self.totalItemCount = totalItemCount
        self.results = results
    }

    /// The result of record `index` (0-based, in submission order), if it has finished.
    public func response(at index: Int) -> ServiceResponse? {
        self.results.first { $0.index == index }?.response
    }

    /// Whether the execution has stopped.
    public var isFinished: Bool { self.state.isFinished }
}

/// One record's result in a batch.
public struct BatchItem: Sendable, Hashable {
    /// The record's position in the submitted list (0-based).
    public var index: Int
    /// The record's response.
    public var response: ServiceResponse

    /// Creates an item.
    public init(index: Int, response: ServiceResponse) {
        self.index = index
        self.response = response
    }
}
