"""Django's PostgreSQL backend for a schema keyed by person (docs/scale.md): the one difference is GROUP BY.

Django groups an aggregate over a model by its primary key alone (PostgreSQL infers the other columns from it).
A per-person table's key in the database is (user_id, id) while Django's is ``id`` (core.person_keys), so
``id`` alone does not determine the row's other columns for PostgreSQL: Django must group by every selected
column instead, which it does when this feature is off. The embedded and pooled backends build on this one.
"""

from __future__ import annotations

from django.db.backends.postgresql import base, features


class DatabaseFeatures(features.DatabaseFeatures):
    allows_group_by_selected_pks = False


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
