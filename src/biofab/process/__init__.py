"""The process pillar: fermentation batch data, bioreactor twins, estimators and control.

Time is in hours from inoculation throughout; concentrations in g/L unless a
signal's registry entry says otherwise (see :mod:`biofab.process.batchdata`).
"""
