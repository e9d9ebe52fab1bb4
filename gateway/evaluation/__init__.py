"""Offline evaluation of the recommenders on real data (``tightrope evaluate recs``).

:mod:`~gateway.evaluation.movielens` reads MovieLens-100k from the installed
recbole wheel, :mod:`~gateway.evaluation.protocol` splits and scores it as
the Microsoft Recommenders benchmark does, :mod:`~gateway.evaluation.baselines`
fits the reference models, and :mod:`~gateway.evaluation.run` loads the
training part into a Neo4j of its own and asks the gateway's own
recommendation service for every user. Nothing here is used when serving.
"""
