# cropaudit: does a cropper favour one group's faces, by how much, and how sure are we?
#
#   snakemake --cores 2                                   # the audit of params.yaml (the demo)
#   snakemake --cores 2 --configfile config/quick.yaml    # another configuration on top of it
#   snakemake --cores 2 -n                                # what would run, and why
#   snakemake --profile workflow/profiles/slurm           # every job through Slurm
#
# Snakemake is the one pipeline; `dvc repro` runs it part by part (dvc.yaml). Every rule is
# one `cropaudit` command; every cropper of `croppers:` goes through the same chain.


include: "workflow/Snakefile"


# An included file's default target does not carry over: this file names it.
rule audit:
    default_target: True
    input:
        rules.all.input,
