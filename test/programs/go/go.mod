module kashim/testprograms

go 1.19
