/// A small columnar table: the Swift face of a `pandas.DataFrame` parameter.
///
/// Columns keep the order they were given in (it is part of the value on the wire), names are unique,
/// and every column has the same number of rows — the initializers refuse anything else, so a
/// `DataFrame` that exists is always well formed. Cells are ``MLScalar``s, so nulls are allowed.
///
/// ```swift
/// let frame = try DataFrame(["hp": [120, 130], "wt": [2.8, 3.0]])
/// frame.rowCount        // 2
/// frame["wt"]           // [2.8, 3.0]
/// ```
public struct DataFrame: Sendable, Hashable, CustomStringConvertible {
    /// One named column.
    public struct Column: Sendable, Hashable {
        /// The column's name.
        public var name: String
        /// The column's cells, top to bottom.
        public var values: [MLScalar]

        /// Creates a column.
        public init(name: String, values: [MLScalar]) {
            self.name = name
            self.values = values
        }
    }

    /// The columns, in order.
    public private(set) var columns: [Column]

    /// An empty frame: no columns, no rows.
    public init() {
        self.columns = []
    }

    /// Creates a frame from named columns, keeping their order.
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidValue``) if the columns differ in
    ///   length or a name repeats.
    public init(columns: [Column]) throws {
        self.columns = []
        for column in columns {
            try self.append(column)
        }
    }

    /// Creates a frame from a literal list of columns, keeping their order.
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidValue``) if the columns differ in
    ///   length or a name repeats.
    public init(_ columns: KeyValuePairs<String, [MLScalar]>) throws {
        try self.init(columns: columns.map { Column(name: $0.key, values: $0.value) })
    }

    /// Creates a frame from rows. Columns appear in `columnOrder`, or in order of first appearance.
    /// A row without a column's key gets `null` in that column.
    public init(rows: [[String: MLScalar]], columnOrder: [String]? = nil) throws {
        var order = columnOrder ?? []
        if columnOrder == nil {
            var seen = Set<String>()
            for row in rows {
                for key in row.keys.sorted() where seen.insert(key).inserted {
                    order.append(key)
                }
            }
        }
        try self.init(columns: order.map { name in Column(name: name, values: rows.map { $0[name] ?? .null }) })
    }

    /// The number of rows (0 for a frame without columns).
    public var rowCount: Int { self.columns.first?.values.count ?? 0 }

    /// The number of columns.
    public var columnCount: Int { self.columns.count }

    /// The column names, in order.
    public var columnNames: [String] { self.columns.map(\.name) }

    /// The cells of the column `name`, or `nil` if there is no such column.
    public subscript(name: String) -> [MLScalar]? {
        self.columns.first(where: { $0.name == name })?.values
    }

    /// Row `index` as a dictionary from column name to cell.
    public func row(_ index: Int) -> [String: MLScalar] {
        var row: [String: MLScalar] = [:]
        for column in self.columns {
            row[column.name] = column.values[index]
        }
        return row
    }

    /// Appends a column.
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidValue``) if its length differs from the
    ///   frame's row count or its name is taken.
    public mutating func append(_ column: Column) throws {
        if self.columns.contains(where: { $0.name == column.name }) {
            throw MLDeployError.invalidValue("The data frame already has a column named '\(column.name)'; column names must be unique.")
        }
        if let first = self.columns.first, first.values.count != column.values.count {
            throw MLDeployError.invalidValue(
                "Column '\(column.name)' has \(column.values.count) rows but column '\(first.name)' has \(first.values.count); all columns of a data frame must have the same length."
            )
        }
        self.columns.append(column)
    }

    /// A one-line summary: `DataFrame(2 rows × [hp, wt])`.
    public var description: String {
        "DataFrame(\(self.rowCount) rows × [\(self.columnNames.joined(separator: ", "))])"
    }
}

// Rows in parts (here, beside the private setter of `columns`).
extension DataFrame {
    /// The rows in `range` (which must lie within the frame), with the same columns — for scoring a
    /// frame in parts.
    public func rows(_ range: Range<Int>) -> DataFrame {
        var part = DataFrame()
        part.columns = self.columns.map { Column(name: $0.name, values: Array($0.values[range])) }
        return part
    }

    /// `frames` one under another: the rows of the first, then of the second, and so on — for
    /// putting the answers of parts back together.
    ///
    /// - Throws: ``MLDeployError`` (``MLDeployError/Code/invalidValue``) when the frames' column
    ///   names (or their order) differ.
    public static func stacking(_ frames: [DataFrame]) throws -> DataFrame {
        guard var stacked = frames.first else { return DataFrame() }
        for frame in frames.dropFirst() {
            guard frame.columnNames == stacked.columnNames else {
                throw MLDeployError(
                    code: .invalidValue,
                    message: "Cannot stack data frames with columns [\(frame.columnNames.joined(separator: ", "))] under [\(stacked.columnNames.joined(separator: ", "))]."
                )
            }
            for index in stacked.columns.indices { stacked.columns[index].values += frame.columns[index].values }
        }
        return stacked
    }
}
