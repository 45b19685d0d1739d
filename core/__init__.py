"""The ground floor: the vocabulary, settings and the job runtime.

Everything in ClueLab may import this package; it imports nothing of ClueLab's.
"""
