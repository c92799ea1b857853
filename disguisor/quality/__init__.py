"""Image quality of anonymized faces (SSIM, LPIPS, deep perceptual similarity, FID on a backbone)
and identity leakage."""
