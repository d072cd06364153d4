"""The deployed contract for a model, as every pipeline handler reads it (JSON files
beside the handler). No pandas here: the gate and register handlers import this."""

from __future__ import annotations

from pathlib import Path

from modelrail.contract import ContractError, ModelContract, load_contract


class UnknownModel(ValueError):
    """No contract is deployed for the model named by the upload's prefix."""


def contract_for(model: str, contracts_dir: Path) -> ModelContract:
    try:
        return load_contract(model, contracts_dir)
    except ContractError as exc:
        raise UnknownModel(str(exc)) from exc
