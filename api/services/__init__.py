"""Domain services shared by the GraphQL resolvers and the REST views (Netflix-dispatch style).

One module per domain, each a set of keyword-only functions over the store contract:
`graphs` (which graphs a caller may read), `entities` (lookup and search), `activity` (API call
volume), `behaviors` (new behaviors), `interactions` (role assumption), `flows` (VPC flow
volume) and `findings` (involved findings and finding groups). Profile functions take many
entities at once and make a fixed number of store calls per batch, so that a DataLoader turns any
number of rows into a bounded number of round trips. Expected failures raise `errors.ServiceError`
subclasses; anything else is a bug.
"""
