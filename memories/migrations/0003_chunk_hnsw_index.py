import pgvector.django.indexes
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    # CONCURRENTLY: building the HNSW index on a populated table takes minutes (795 s for 1M chunks on 2 cores)
    # and must not block saves meanwhile; it cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("memories", "0002_idempotency_key"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="chunk",
            index=pgvector.django.indexes.HnswIndex(
                ef_construction=64,
                fields=["embedding"],
                m=16,
                name="chunk_embedding_hnsw_idx",
                opclasses=["vector_cosine_ops"],
            ),
        ),
    ]
