"""Appeals (申诉 · 复核): the fifth kind of import, and what the appeals say about the reviewers.

records: the vocabulary (what is appealed, why, what was decided) and the importer's check for the kind.
store: reading the `appeals` table within a user's scope. analysis: counts, time to decision, and whether
the reviewers the leniency detector flags draw more appeals than the others.
"""
