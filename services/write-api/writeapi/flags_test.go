package writeapi_test

import "flag"

func flagSet() *flag.FlagSet { return flag.NewFlagSet("test", flag.ContinueOnError) }
