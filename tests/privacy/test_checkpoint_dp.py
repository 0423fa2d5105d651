"""The private aggregation's state in a checkpoint: saved, restored exactly, and refused
when the resuming job's privacy does not match the saved one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import datapredict as dp
from datapredict.coordinators.checkpoint import load_checkpoint, save_checkpoint
from datapredict.errors import CheckpointError
from datapredict.privacy import PrivacyState, PrivateMean


def _server(private):
    server = dp.DistributedGradients(aggregation="sync", num_children=2)
    core = server.core
    if private is not None:
        core.configure(chain=dataclasses.replace(core.chain, privacy=private))
    server.set_model_parameters(np.zeros(3))
    return server


def _state(server):
    return {**server.core.state_dict(), "round": 1, "next_seq": 2}


def test_privacy_state_round_trips(tmp_path):
    private = PrivateMean(1.0, 1.0, 2, np.random.SeedSequence(0))
    server = _server(private)
    server.core.privacy_state = PrivacyState(7, np.array(0.123456789))
    save_checkpoint(tmp_path, _state(server))
    loaded = load_checkpoint(tmp_path, None, privacy_template=private.init())
    assert loaded["privacy_state"].releases == 7
    assert loaded["privacy_state"].clip_norm == np.float64(0.123456789)
    restored = _server(private)
    restored.core.load_state_dict(loaded)
    assert restored.core.privacy_state.releases == 7


def test_a_private_job_cannot_resume_from_a_checkpoint_without_privacy_state(tmp_path):
    save_checkpoint(tmp_path, _state(_server(None)))
    template = PrivateMean(1.0, 1.0, 2, np.random.SeedSequence(0)).init()
    with pytest.raises(CheckpointError, match="the privacy state has fields"):
        load_checkpoint(tmp_path, None, privacy_template=template)


def test_a_non_finite_clip_norm_is_refused(tmp_path):
    private = PrivateMean(1.0, 1.0, 2, np.random.SeedSequence(0))
    server = _server(private)
    server.core.privacy_state = PrivacyState(1, np.array(np.inf))
    with pytest.raises(CheckpointError, match=r"privacy\.clip_norm"):
        save_checkpoint(tmp_path, _state(server))
