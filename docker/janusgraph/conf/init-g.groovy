// Binds the traversal source `g` for bytecode (gremlinpython) and script requests.
// The last expression must be the map of globals.
def globals = [:]
globals << [g : graph.traversal()]
