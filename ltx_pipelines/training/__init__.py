"""LoRA training on cached latents: rectified flow, checkpoints, adapters in diffusers and ComfyUI format."""
