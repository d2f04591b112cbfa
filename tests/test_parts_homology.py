"""Identity clusters from an all-vs-all phmmer search (real pyhmmer, real CatPred enzymes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.core.errors import InputError
from biofab.parts.homology import identity_clusters, identity_edges, single_linkage
from conftest import shared_data


@pytest.fixture(scope="module")
def enzymes() -> list[str]:
    """Two members of each of three CatPred 40 %-identity clusters."""
    raw = pd.read_csv(shared_data("enzymes/catpred_kcat_random_val.csv"))
    raw = raw.drop_duplicates("sequence")
    raw = raw[raw["sequence"].str.len().between(150, 450)]
    sizes = raw["sequence_40cluster"].value_counts()
    picked = sizes[sizes >= 2].index[:3]
    out: list[str] = []
    for c in picked:
        out.extend(raw.loc[raw["sequence_40cluster"] == c, "sequence"].iloc[:2])
    return out


def test_edges_and_single_linkage(enzymes: list[str]) -> None:
    edges = identity_edges(enzymes)
    assert edges.shape[1] == 3 and len(edges) >= 3
    assert ((edges[:, 2] > 0) & (edges[:, 2] <= 1)).all()
    assert (edges[:, 0] != edges[:, 1]).all()
    labels = single_linkage(len(enzymes), edges, 0.4)
    # members of one 40 % cluster share a label at a 40 % identity threshold
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[4] == labels[5]
    # a threshold above every hit leaves singletons
    assert len(set(single_linkage(len(enzymes), edges, 1.0))) >= len(enzymes) - 1


def test_identity_clusters_cache_and_duplicates(enzymes: list[str], tmp_path: Path) -> None:
    seqs = [*enzymes, enzymes[0]]  # the same enzyme twice (another substrate)
    first = identity_clusters(seqs, 0.2, cache=tmp_path)
    assert first[0] == first[-1] and len(first) == len(seqs)
    cached = list(tmp_path.glob("phmmer_*.npz"))
    assert len(cached) == 1
    again = identity_clusters(seqs, 0.2, cache=tmp_path)  # read from the cache
    np.testing.assert_array_equal(first, again)
    looser = identity_clusters(seqs, 0.9, cache=tmp_path)
    assert len(set(looser)) >= len(set(first))


def test_bad_input_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        identity_clusters(["MKTAYIAKQR", "MKT1AYI"], 0.2)
    assert "row 2" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="threshold out of range"):
        identity_clusters(["MKTAYIAKQR"], 20)
    with pytest.raises(InputError, match="cache folder does not exist"):
        identity_clusters(["MKTAYIAKQR"], 0.2, cache=tmp_path / "nope")
