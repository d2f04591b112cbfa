"""Site-library workflows: design the library, focus its first round, export chosen variants.

Typed requests in, results out (``to_frame``, ``to_dict``/``to_json``, ``files``), as the
other parts workflows. Everything is computed and checked before the first file is
written; bad input is one :class:`~biofab.core.errors.InputError` line.

* :func:`design` -- parent + sites + codon sets -> ``sites.csv`` (codons, residues, stop
  fraction, bias per site), ``library.json`` (the library and its coverage statistics,
  which :func:`focus` and :func:`export` read back), ``space.yaml`` (the campaign space:
  exactly the residues the codons encode), ``library.html`` (coverage against clones
  screened, residue odds per site) and, with the parent's CDS, ``primers.csv``
  (the oligos to order). A ``budget`` smaller than the clones needed for ``coverage`` is
  refused.
* :func:`focus` -- the first round: ``n`` variants drawn from the top fraction by the
  zero-shot prior (ftMLDE), optionally with a homolog profile from a proteome.
* :func:`export` -- a table of chosen variants -> FASTA or GenBank (protein, or DNA with
  the CDS); a variant listed twice is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biofab.core.atomic import output_folder, write_atomic
from biofab.core.errors import InputError
from biofab.parts.library_design import (
    CodonSet,
    LibraryDesign,
    library_page,
    primers,
    write_variants,
)
from biofab.parts.variants import SiteLibrary, unique_variants

if TYPE_CHECKING:
    import pandas as pd

LIBRARY_FORMAT = "biofab-site-library/1"


def _dumps(data: Any) -> str:
    def plain(x: Any) -> Any:
        return x.item() if hasattr(x, "item") else str(x)

    return json.dumps(data, indent=2, default=plain) + "\n"


def _dna(text: str | None, what: str) -> str:
    """DNA given inline or as a FASTA/text file (first record); '' when not given."""
    from biofab.parts.sequences import check_sequence, parse_fasta, read_text_file

    if text is None or not text.strip():
        return ""
    value = text.strip()
    path = Path(value)
    file = None
    if len(value) < 4096 and (path.is_file() or "/" in value or "." in value):
        raw = read_text_file(path, "a DNA FASTA or sequence")
        file = str(path)
        value = parse_fasta(raw, file=file)[1][0] if raw.lstrip().startswith(">") else raw
        value = "".join(value.split())
    return check_sequence(value, "dna", file=file, column=what)


def _site_codons(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    seen: dict[str, str] = {}  # position digits -> the item that set it
    for item in items:
        site, sep, spec = item.partition("=")
        if not sep or not site.strip() or not spec.strip():
            raise InputError(
                "a per-site codon set is not SITE=CODONS", expected="like V54=22c", found=item
            )
        key = site.strip().upper()
        position = "".join(ch for ch in key if ch.isdigit()) or key
        if position in seen:  # the last one silently won; a typo more likely than intent
            raise InputError(
                "a site is given two codon sets",
                column="site_codons",
                expected="one SITE=CODONS per site",
                found=f"{seen[position]} and {item}",
            )
        seen[position] = item
        out[key] = spec.strip()
    return out


# -- design ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignRequest:
    """Design a site library. ``parent``: protein inline or FASTA; ``sites``: ``"V39,D40"``."""

    parent: str
    sites: str
    out: Path
    codons: str = "NNK"
    site_codons: tuple[str, ...] = ()
    parent_dna: str | None = None
    upstream: str | None = None
    downstream: str | None = None
    budget: int | None = None
    coverage: float = 0.95
    target_tm: float = 60.0
    prefix: str = "lib"


@dataclass
class DesignResult:
    summary: dict[str, Any]
    sites: pd.DataFrame
    primers: pd.DataFrame | None
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.sites.copy()

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary,
            "n_primers": 0 if self.primers is None else len(self.primers),
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def design(request: DesignRequest) -> DesignResult:
    """Check everything, compute statistics and primers, then write the four files."""
    from biofab.parts.workflows import read_protein

    parent = read_protein(request.parent, "parent")
    base = SiteLibrary.from_sites(parent, request.sites)
    per_site = _site_codons(request.site_codons)
    lib = LibraryDesign(parent, base.positions, {**per_site}, default=request.codons)
    if not 0 < request.coverage < 1:
        raise InputError(
            "coverage out of range", expected="0 < coverage < 1", found=request.coverage
        )
    if request.budget is not None:
        lib.check_budget(request.budget, request.coverage)
    cds = _dna(request.parent_dna, "parent_dna")
    oligos = None
    if cds:
        oligos = primers(
            lib,
            cds,
            target_tm=request.target_tm,
            name_prefix=request.prefix,
            upstream=_dna(request.upstream, "upstream"),
            downstream=_dna(request.downstream, "downstream"),
        )
    elif request.upstream or request.downstream:
        raise InputError(
            "plasmid context needs the parent's CDS", expected="--parent-dna", found="none"
        )
    summary = lib.summary(request.coverage, request.budget)
    record = {
        "format": LIBRARY_FORMAT,
        "parent": parent,
        "positions": list(lib.library.positions),
        "codons": {
            n: "+".join(f"{c}:{w:g}" for c, w in s.parts) for n, s in lib.codon_sets.items()
        },
        "parent_dna": cds or None,
        "summary": summary,
    }
    table = lib.site_table()
    page = library_page(lib, request.coverage, request.budget, f"sites {request.sites}")
    folder = output_folder(request.out)
    files = [folder / n for n in ("sites.csv", "library.json", "space.yaml", "library.html")]
    write_atomic(files[0], table.to_csv(index=False))
    write_atomic(files[1], _dumps(record))
    write_atomic(files[2], lib.library.space().to_yaml())
    write_atomic(files[3], page)
    if oligos is not None:
        files.append(folder / "primers.csv")
        write_atomic(files[4], oligos.to_csv(index=False))
    return DesignResult(summary, table, oligos, [str(f) for f in files])


# -- reading a library back ---------------------------------------------------------------


@dataclass(frozen=True)
class LibraryRef:
    """Which library: ``library.json`` from :func:`design`, or a parent and its sites."""

    library: Path | None = None
    parent: str | None = None
    sites: str | None = None


def load_library(ref: LibraryRef) -> tuple[SiteLibrary, dict[str, CodonSet], str]:
    """The library, its codon sets (empty without ``library.json``) and the CDS ('' if none)."""
    from biofab.parts.sequences import read_text_file
    from biofab.parts.workflows import read_protein

    if ref.library is not None:
        if ref.parent is not None or ref.sites is not None:
            raise InputError("give --library or --parent/--sites, not both", found=str(ref.library))
        file = str(ref.library)
        try:
            data = json.loads(read_text_file(Path(ref.library), "a library.json file"))
        except json.JSONDecodeError as err:
            raise InputError("not JSON", file=file, found=err.msg) from None
        if not isinstance(data, dict) or data.get("format") != LIBRARY_FORMAT:
            raise InputError(
                "not a site-library file", file=file, expected=LIBRARY_FORMAT, found=str(data)[:40]
            )
        missing = [k for k in ("parent", "positions", "codons") if k not in data]
        if missing or not isinstance(data["codons"], dict):
            raise InputError(
                "site-library file lacks a field",
                file=file,
                expected="parent, positions, codons",
                found=missing[0] if missing else "codons",
            )
        codons = {str(k): str(v) for k, v in data["codons"].items()}
        try:
            lib = LibraryDesign(str(data["parent"]), list(data["positions"]), codons)
        except InputError as err:
            raise InputError(
                err.message, file=file, expected=err.expected, found=err.found
            ) from None
        return lib.library, lib.codon_sets, data.get("parent_dna") or ""
    if ref.parent is None or ref.sites is None:
        raise InputError(
            "which library?",
            expected="--library library.json, or --parent and --sites",
            found="none",
        )
    return SiteLibrary.from_sites(read_protein(ref.parent, "parent"), ref.sites), {}, ""


# -- focus ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FocusRequest:
    """The first round: ``n`` variants from the top ``top_fraction`` by zero-shot prior."""

    ref: LibraryRef
    out: Path
    n: int = 96
    top_fraction: float = 0.1
    proteome: Path | None = None
    seed: int = 0


@dataclass
class FocusResult:
    designs: pd.DataFrame
    pool_fraction: float
    homologs: int | None
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.designs.copy()

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": len(self.designs),
            "top_fraction": self.pool_fraction,
            "homologs": self.homologs,
            "prior_median": float(self.designs["prior"].median()),
            "out": self.files[0] if self.files else None,
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def focus(request: FocusRequest) -> FocusResult:
    """Score the whole library with the zero-shot prior and draw the first round from the top."""
    from biofab.core.atomic import require_folder
    from biofab.parts.protein_features import HomologProfile, ZeroShotPrior, focused_sample

    require_folder(request.out)
    lib, _, _ = load_library(request.ref)
    profile = None
    if request.proteome is not None:
        profile = HomologProfile().fit(lib.parent, request.proteome)
    prior = ZeroShotPrior(lib, profile=profile)
    designs = focused_sample(
        lib, request.n, top_fraction=request.top_fraction, prior=prior, seed=request.seed
    )
    designs.insert(len(lib.sites), "variant", lib.codes(designs))
    designs.insert(len(lib.sites) + 1, "mutations", lib.names(designs))
    write_atomic(request.out, designs.to_csv(index=False))
    homologs = None if profile is None else len(profile.homologs_)
    return FocusResult(designs, request.top_fraction, homologs, [str(request.out)])


# -- export ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """Chosen variants (CSV: a ``column`` of codes/mutations, or one column per site) -> file."""

    variants: Path
    out: Path
    ref: LibraryRef
    fmt: str | None = None
    column: str = "variant"
    parent_dna: str | None = None
    dna: bool = True


@dataclass
class ExportResult:
    variants: pd.DataFrame
    format: str
    molecule: str
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.variants.copy()

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": len(self.variants),
            "format": self.format,
            "molecule": self.molecule,
            "out": self.files[0] if self.files else None,
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def _designs_from_table(
    lib: SiteLibrary, table: pd.DataFrame, column: str, file: str
) -> pd.DataFrame:
    if column in table.columns:
        rows = []
        for i, v in enumerate(table[column].tolist(), start=1):
            try:
                rows.append(lib.parse(v))
            except InputError as err:
                raise InputError(
                    err.message, file=file, row=i, column=column, expected=err.expected, found=v
                ) from None
        import pandas as pd

        return pd.DataFrame(rows, columns=lib.sites)
    if set(lib.sites) <= set(table.columns):
        lib.check_frame(table, file=file)
        return table[lib.sites].astype(str).apply(lambda s: s.str.strip().str.upper())
    raise InputError(
        "no variant column",
        file=file,
        expected=f"a column '{column}' (codes or mutations) or the site columns {lib.sites}",
        found=list(table.columns)[:8],
    )


def export(request: ExportRequest) -> ExportResult:
    """Read and check the variants (no duplicates), write FASTA or GenBank atomically."""
    from biofab.core.atomic import require_folder
    from biofab.parts.library_design import export_format
    from biofab.parts.workflows import _read_table

    fmt = export_format(request.fmt, request.out)
    require_folder(request.out)
    lib, codon_sets, cds = load_library(request.ref)
    if request.parent_dna is not None:
        cds = _dna(request.parent_dna, "parent_dna")
    file = str(request.variants)
    table = _read_table(Path(request.variants))
    designs = _designs_from_table(lib, table, request.column, file)
    unique_variants(lib.codes(designs), file=file, column=request.column)
    values = [
        c
        for c in table.columns
        if c not in (request.column, *lib.sites) and table[c].dtype.kind in "if"
    ]
    for c in values:
        designs[c] = table[c].to_numpy()
    use_dna = bool(cds) and request.dna
    write_variants(
        lib,
        designs,
        request.out,
        fmt,
        cds=cds if use_dna else None,
        codon_sets=codon_sets,
        values=values,
    )
    designs.insert(len(lib.sites), "variant", lib.codes(designs))
    return ExportResult(designs, fmt, "DNA" if use_dna else "protein", [str(request.out)])
