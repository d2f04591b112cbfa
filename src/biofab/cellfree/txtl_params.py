"""The documented parameter set of the TX-TL kinetic testbed (:mod:`biofab.cellfree.txtl`).

Every number below carries its source. Two kinds of source appear:

* **literature** — a measured value or a value inside a measured range (author,
  year, journal);
* **chosen** — set so the model reproduces a *qualitative* fact that the cited
  papers report (an interior Mg optimum near the standard buffer, a plateau within
  a few hours, yields of 10–30 µM GFP for the standard buffer). Such a number is
  not a measurement and must not be quoted as one.

Conditions: *E. coli* S30-type lysate at 33 % v/v, 29 °C, 10 µL batch reaction,
a σ70-driven GFP reporter on a plasmid (Sun et al. 2013, J Vis Exp 79:e50762).

Units: time h; small molecules mM; mRNA and DNA nM; ribosomes and protein µM.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from biofab.core.errors import InputError

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class TxTlParameters:
    """Kinetic and thermodynamic constants of :class:`~biofab.cellfree.txtl.TxTlModel`.

    Attributes (unit; source):

    **Reporter**

    - ``gfp_length`` = 238 aa (GFP, UniProt P42212); sets amino-acid and energy cost.
    - ``mrna_length`` = 1000 nt (GFP ORF 717 nt plus UTRs and terminator; approximate).
    - ``maturation_half_time`` = 0.33 h (20 min). Chromophore maturation of GFP variants
      takes minutes to tens of minutes (Iizuka et al. 2011, Anal Biochem 414:173;
      Balleza et al. 2018, Nat Methods 15:47); 20 min is inside that range for 29 °C.

    **Lysate background** (S30B buffer carried in by 33 % v/v lysate)

    - ``mg_lysate`` = 4.6 mM, ``k_lysate`` = 20 mM: 14 mM Mg-glutamate and 60 mM
      K-glutamate of S30B (Sun et al. 2013) diluted 3-fold.

    **Transcription** (σ70 promoter, E. coli core RNAP in the lysate)

    - ``tx_max`` = 150 nM mRNA/h at saturating DNA: chosen so steady-state mRNA is tens
      of nM, the range measured in TX-TL with fluorescent aptamers (Siegal-Gaskins
      et al. 2014, ACS Synth Biol 3:416; Garamella et al. 2016, ACS Synth Biol 5:344).
    - ``k_dna`` = 5 nM: half-saturating plasmid. Expression is linear in DNA up to a few
      nM and saturates near 10 nM as RNAP and σ70 become limiting (Siegal-Gaskins et al.
      2014; Sun et al. 2013). Chosen inside that range.
    - ``k_ntp_tx`` = 0.4 mM total NTP: RNAP's Km for NTPs is tens to hundreds of µM per
      NTP (textbook order of magnitude); chosen.
    - ``mrna_half_life`` = 0.2 h (12 min): mRNA lifetimes of about 10–20 min in E. coli
      TX-TL (Karzbrun et al. 2011, PRL 106:048104; Shin & Noireaux 2010, J Biol Eng
      4:8; Garamella et al. 2016).

    **Translation**

    - ``ribosomes`` = 1.0 µM translating-competent ribosomes in the reaction. Lysates
      carry a few µM ribosomes of which a minority is in polysomes (Underwood et al.
      2005, Biotechnol Bioeng 91:425); 1 µM is chosen inside that range.
    - ``elongation_rate`` = 1.5 aa/s per ribosome: cell-free elongation is about an
      order of magnitude slower than in vivo, ~1–2 aa/s (Underwood et al. 2005).
    - ``k_mrna_tl`` = 30 nM mRNA for half-maximal ribosome loading; chosen so translation
      saturates in mRNA, the resource competition of Stögbauer et al. 2012 (Integr Biol
      4:494) and Siegal-Gaskins et al. 2014.
    - ``k_ntp_tl`` = 0.5 mM total NTP, ``k_aa`` = 0.1 mM per amino acid: half-saturating
      energy and substrate; aminoacyl-tRNA synthetase and EF-Tu/EF-G Km are in the
      10–100 µM range; chosen.
    - ``energy_per_aa`` = 4 high-energy phosphates per peptide bond (2 for aminoacylation,
      ATP -> AMP + PPi; 1 GTP for EF-Tu; 1 GTP for EF-G) — textbook stoichiometry, as used
      by Jewett & Swartz 2004 (Biotechnol Bioeng 86:19) for energy budgets.
    - ``activity_half_life`` = 2.0 h: decay of translation machinery activity. TX-TL
      expression stops after a few hours even with energy left (Stögbauer et al. 2012;
      Karzbrun et al. 2011); chosen to give a plateau within 4–6 h.

    **Magnesium and potassium** (bell-shaped activity, inhibition on both sides)

    - ``kd_mg_ntp`` = 0.1 mM: Mg–NTP dissociation constant (Mg·ATP ~0.05–0.1 mM at
      physiological ionic strength; textbook). NTPs chelate Mg2+ about 1:1, which is why
      the Mg optimum moves with the NTPs (Jewett & Swartz 2004).
    - ``kd_mg_ndp`` = 1.0 mM: Mg–NDP/NMP, weaker binding; order of magnitude.
    - ``kd_mg_pi`` = 10 mM: Mg2+ sequestration by inorganic phosphate (soluble complex plus
      precipitation). Phosphate accumulation inhibits by taking free Mg2+ (Kim & Swartz
      1999, Biotechnol Bioeng 66:180; 2001, Biotechnol Bioeng 74:309); chosen.
    - ``kd_mg_pga`` = 25 mM: weak Mg–3-PGA complex; chosen (order of magnitude of
      Mg–phosphoglycerate complexes) so excess 3-PGA shifts the Mg optimum up.
    - ``mg_free_opt`` = 3.0 mM, ``mg_width`` = 0.45 (log-width): optimal free Mg2+ for
      translation and the breadth of the optimum; chosen so the Mg-glutamate optimum of
      the reference composition falls near 8–12 mM added, as in Sun et al. 2013.
    - ``k_opt`` = 110 mM total K+, ``k_width`` = 0.55 (log-width): chosen to put the
      K-glutamate optimum near the 60–140 mM range of Sun et al. 2013.

    **Energy: NTPs, 3-PGA regeneration, phosphate**

    - ``regen_max`` = 40 mM/h, ``k_pga`` = 5 mM, ``k_ndp`` = 0.5 mM: 3-PGA -> PEP ->
      pyruvate rephosphorylates NDPs (the lysate's glycolytic enzymes; Sun et al. 2013;
      Kim & Swartz 2001). Rates chosen so the charged NTP pool holds for hours with 30 mM
      3-PGA.
    - ``ntp_hydrolysis`` = 1.2 1/h: futile NTP hydrolysis by lysate ATPases and
      phosphatases, the dominant energy sink of batch lysate reactions (Jewett & Swartz
      2004); chosen so 30 mM 3-PGA lasts about 3–5 h.
    - ``pga_leak`` = 0.05 1/h: direct dephosphorylation of 3-PGA releasing Pi; chosen.
    - ``ki_pi`` = 35 mM, ``pi_hill`` = 2: direct inhibition of translation by accumulated
      Pi beyond its Mg2+ sequestration (Kim & Swartz 1999); chosen.
    """

    gfp_length: float = 238.0
    mrna_length: float = 1000.0
    maturation_half_time: float = 20.0 / 60.0
    mg_lysate: float = 4.6
    k_lysate: float = 20.0
    tx_max: float = 250.0
    k_dna: float = 5.0
    k_ntp_tx: float = 1.0
    mrna_half_life: float = 12.0 / 60.0
    ribosomes: float = 1.5
    elongation_rate: float = 1.5
    k_mrna_tl: float = 30.0
    k_ntp_tl: float = 1.5
    k_aa: float = 0.1
    energy_per_aa: float = 4.0
    activity_half_life: float = 2.5
    kd_mg_ntp: float = 0.1
    kd_mg_ndp: float = 1.0
    kd_mg_pi: float = 10.0
    kd_mg_pga: float = 25.0
    mg_free_opt: float = 3.0
    mg_width: float = 0.45
    k_opt: float = 130.0
    k_width: float = 0.55
    regen_max: float = 40.0
    k_pga: float = 5.0
    k_ndp: float = 0.5
    ntp_hydrolysis: float = 0.8
    pga_leak: float = 0.05
    ki_pi: float = 35.0
    pi_hill: float = 2.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and value >= 0 and value == value):
                raise InputError(
                    "TX-TL parameter must be a non-negative number",
                    column=f.name,
                    expected=">= 0",
                    found=value,
                )

    @classmethod
    def from_any(cls, params: TxTlParameters | dict[str, Any] | None) -> TxTlParameters:
        """Defaults, a parameter set, or the defaults with a dict of overrides."""
        if params is None:
            return cls()
        if isinstance(params, cls):
            return params
        if not isinstance(params, dict):
            raise InputError(
                "params must be a TxTlParameters or a dict", found=type(params).__name__
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise InputError(
                "unknown TX-TL parameter", column=unknown[0], expected=f"one of {sorted(known)}"
            )
        return replace(cls(), **{k: float(v) for k, v in params.items()})

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}
