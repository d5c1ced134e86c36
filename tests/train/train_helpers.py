"""Helpers shared by the train tests (imported by module name: pytest puts this folder on sys.path)."""

import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, 'examples', 'train')


def load_example_module(name):
    spec = importlib.util.spec_from_file_location(f'_example_{name}', os.path.join(EXAMPLES, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_config(path, *, model_dir, data_dir, output_dir, **sections):
    """A minimal valid config; `sections` override whole sections or top-level keys."""
    import yaml

    cfg = {
        'model': {'path': model_dir, 'torch_dtype': 'float32', 'attn_impl': 'sdpa'},
        'training': {
            'output_dir': output_dir,
            'learning_rate': 1e-4,
            'max_steps': 2,
            'per_device_train_batch_size': 1,
            'gradient_accumulation_steps': 1,
            'save_steps': 2,
            'logging_steps': 1,
            'seed': 7,
        },
        'tuner': {'type': 'lora', 'lora_rank': 4, 'lora_alpha': 8},
        'data': {
            'train': os.path.join(data_dir, 'train.jsonl'),
            'max_pixels': 65536,
            'dataloader_num_workers': 0,
            'dataloader_pin_memory': False,
        },
        'global_max_length': 2048,
        'custom': {
            'augmentation': {
                'enabled': True,
                'ops': [
                    {'name': 'hflip', 'params': {'prob': 0.5}},
                    {'name': 'rotate', 'params': {'max_deg': 10.0, 'prob': 0.5}},
                    {'name': 'pad_to_multiple', 'params': {'multiple': 32}},
                ],
            }
        },
    }
    for key, value in sections.items():
        cfg[key] = value
    with open(path, 'w') as f:
        yaml.safe_dump(cfg, f)
    return str(path)
