/* placeholder: implementation lands with its module */
