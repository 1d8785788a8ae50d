"""The instructors' tools: grade-all, the class report, the releases, make-starter."""
