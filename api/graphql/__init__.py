"""The GraphQL API: entity profiles, search, new behaviors and findings (strawberry).

`schema.py` assembles the schema from the Query (and Mutation) types of its modules, `view.py`
serves it over HTTP with authentication and an offline GraphiQL.
"""
